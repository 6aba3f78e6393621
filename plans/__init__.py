"""Importing action plans from spreadsheets: read, check completely, then start."""
