"""Safety limits for reading untrusted files. Pure values; callers may pass their own."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile file from exhausting time or memory.

    ``max_input_bytes``: the largest document accepted (PEC allows 30-100 MB per message).
    ``max_unzipped_bytes`` / ``max_zip_ratio``: DOCX (zip) members are checked before inflating.
    ``max_pages``: PDF pages read (an Allegato 1 is 1-4 pages).
    ``max_mime_depth`` / ``max_mime_parts``: nesting of MIME and message/rfc822 parts.
    ``max_signed_layers``: nested CAdES envelopes unwrapped.
    """

    max_input_bytes: int = 50 * 1024 * 1024
    max_unzipped_bytes: int = 100 * 1024 * 1024
    max_zip_ratio: int = 200
    max_zip_members: int = 2000
    max_pages: int = 30
    max_mime_depth: int = 12
    max_mime_parts: int = 500
    max_signed_layers: int = 5


DEFAULT_LIMITS = Limits()
