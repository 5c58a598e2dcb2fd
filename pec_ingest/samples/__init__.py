"""Synthetic but realistic inputs, built by code: PEC envelopes and receipts, CAdES files and
filled Allegato 1 forms. Used by the tests and by ``pec-ingest demo``; no real person's data."""
