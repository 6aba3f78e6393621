"""The web app: response pages (and, later, the dashboard and JSON API)."""
