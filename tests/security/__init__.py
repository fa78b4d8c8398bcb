"""Security tests: one module per class of attack (docs/security.md names them)."""
