"""Plain read functions: what pages and API responses show. No writes here."""
