"""Routers, one module per flow. Order matters: bot/app.py includes them from specific to general."""
