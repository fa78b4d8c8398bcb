"""The HTTP API (FastAPI): parses and checks requests, calls actions and queries, renders JSON."""
