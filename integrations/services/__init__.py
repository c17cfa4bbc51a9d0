"""Writes of integrations: tokens (tokens.py) and webhooks (webhooks.py)."""
