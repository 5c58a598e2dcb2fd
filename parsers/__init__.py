"""Pure parsing: bytes in, frozen dataclasses out.

No network, no database, no logging set-up, no globals, no clock. Everything here can be
tested with bytes alone: PEC envelopes and daticert.xml, MIME attachments, CAdES unwrapping,
Allegato 1 forms (DOCX, PDF), and normalisation/validation of the declared fields.
"""
