"""pec-ingest: the daemon and its edges (config, mailbox, pipeline, acknowledgements, CLI)."""

__version__ = "0.1.0"
