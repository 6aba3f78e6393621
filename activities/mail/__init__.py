"""Email: rendering notifications, building messages, delivering them over SMTP."""
