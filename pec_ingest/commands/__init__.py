"""Sub-commands of ``pec-ingest``; each module has ``add_parser(subparsers)``."""
