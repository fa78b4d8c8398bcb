"""The `sovereel` command: one module per command group (`main` holds the process commands and the parser)."""
