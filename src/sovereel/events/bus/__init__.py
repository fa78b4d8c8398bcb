"""The event bus: one interface, one file per backend (in-process memory, NATS JetStream), chosen by URL."""
