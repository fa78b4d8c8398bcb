"""The media blob store: one interface, one file per backend (local folder, S3), chosen by URL."""
