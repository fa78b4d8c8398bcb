"""The only code that changes state: each action writes its rows and outbox events in one transaction."""
