"""The processes a region runs: its runtime (stores, bus, learner), the supervisor of the scaled layout,
the outbox relay and trainer processes, the media worker and the content-exchange puller."""
