"""Tell a document's format from its bytes (file names lie, extensions get doubled)."""

from __future__ import annotations

import io
import zipfile

_BASE64_CHARS = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n \t")


def detect_format(data: bytes) -> str:
    """Return one of ``pdf``, ``docx``, ``odt``, ``doc``, ``zip``, ``p7m``, ``pem``, ``base64``,
    ``xml``, ``png``, ``jpeg``, ``tiff``, ``eml``, ``empty`` or ``unknown``.

    ``p7m`` means DER/BER ASN.1 that starts like a CMS ContentInfo; ``pem`` an armoured one;
    ``base64`` a text body made only of base64 characters (often a p7m sent as text).
    """
    if not data:
        return "empty"
    head = data[:2048]
    stripped = head.lstrip()
    if stripped.startswith(b"%PDF-"):
        return "pdf"
    if head[0] == 0x30 and len(data) > 16 and _looks_like_content_info(data):
        return "p7m"  # a signed PDF carries "%PDF-" a few bytes in: check this first
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "doc"
    if head.startswith(b"\x89PNG"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if stripped.startswith(b"-----BEGIN"):
        return "pem"
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<"):
        return "xml"
    sample = data[:4096]
    if len(data) >= 64 and all(b in _BASE64_CHARS for b in sample):
        return "base64"
    low = head.lower()
    if any(h in low for h in (b"\nfrom:", b"\nsubject:", b"mime-version:", b"\nreceived:")) or (
        low.startswith((b"from:", b"received:", b"return-path:", b"subject:"))
    ):
        return "eml"
    return "unknown"


def _zip_kind(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
        return "zip"
    if "word/document.xml" in names:
        return "docx"
    if "content.xml" in names and "mimetype" in names:
        return "odt"
    return "zip"


# OID 1.2.840.113549.1.7.2 (signedData) as DER bytes
_SIGNED_DATA_OID = bytes.fromhex("06092a864886f70d010702")


def _looks_like_content_info(data: bytes) -> bool:
    return _SIGNED_DATA_OID in data[:64]
