"""Outbox, event bus and the relay between them."""
