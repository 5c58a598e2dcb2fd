"""The staff desk: the review queue, corrections with their audit log, re-reading a message
with the current parser, the retention purge and the attendance lists.

Functions here take a Session and flush; the commands in :mod:`pec_ingest.commands` own the
transaction (one per staff action) and the printing.
"""
