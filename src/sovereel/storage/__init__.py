"""Region stores: metadata (SQLAlchemy), blobs (local folder | S3), full-text search."""
