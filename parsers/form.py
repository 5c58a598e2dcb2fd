"""Allegato 1 from a file's bytes: sniff the format, unwrap signatures, read, extract.

This is the one entry point the CLI and the pipeline call for a document. It raises
:class:`parsers.errors.ParseError` only when the bytes cannot be read at all (junk, truncated,
encrypted, over a limit, a broken signature container); a readable file in a format we do not
read (ODT, DOC, a photo) gives a ``needs_review`` result with the reason, so that staff see it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from parsers import cades
from parsers.allegato import FIELDS, Extraction, Tavolo, extract
from parsers.content import FormContent
from parsers.docx_form import read_docx
from parsers.errors import UnreadableInput
from parsers.limits import DEFAULT_LIMITS, Limits
from parsers.pdf_form import read_pdf
from parsers.sniff import detect_format
from parsers.vocabulary import DEFAULT_VOCABULARY, Vocabulary

SIGNED_FORMATS = frozenset({"p7m", "pem", "base64"})
IMAGE_FORMATS = frozenset({"png", "jpeg", "tiff"})
UNSUPPORTED_DOCUMENTS = {
    "odt": "documento OpenDocument (.odt): formato non letto automaticamente",
    "doc": "documento Word 97-2003 (.doc): formato non letto automaticamente",
}
# Words that only an Allegato 1 (or a letter about it) is likely to contain.
_MARKERS = ("allegato 1", "tavol", "piano di zona", "piano sociale di zona", "co-programmazione",
            "manifestazione di interesse", "manifesta")


@dataclass(frozen=True)
class DocumentInfo:
    format: str
    sha256: str
    size: int


@dataclass(frozen=True)
class SignatureInfo:
    signers: tuple[cades.Signer, ...]
    valid: bool
    layers: int
    encoding: str
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class FormResult:
    file: str | None
    status: str
    fields: Mapping[str, str | None]
    tavoli: tuple[Tavolo, ...]
    document: DocumentInfo
    signature: SignatureInfo | None
    warnings: tuple[str, ...]
    relevance: int  # how much of the document looks like an Allegato 1 (0 = not at all)

    @property
    def looks_like_allegato(self) -> bool:
        return self.relevance >= 3

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "status": self.status,
            "fields": dict(self.fields),
            "tavoli": [{"code": t.code, "rank": t.rank} for t in self.tavoli],
            "document": {"format": self.document.format, "sha256": self.document.sha256},
            "signature": None if self.signature is None else {
                "signers": [{"name": s.name, "codice_fiscale": s.codice_fiscale}
                            for s in self.signature.signers],
                "valid": self.signature.valid,
            },
            "warnings": list(self.warnings),
        }


def parse_form(
    data: bytes,
    filename: str | None = None,
    vocabulary: Vocabulary = DEFAULT_VOCABULARY,
    limits: Limits = DEFAULT_LIMITS,
) -> FormResult:
    """Read one Allegato 1 document (DOCX, PDF, or either inside a CAdES signature)."""
    if len(data) > limits.max_input_bytes:
        from parsers.errors import LimitExceeded

        raise LimitExceeded(
            f"file troppo grande ({len(data)} byte, limite {limits.max_input_bytes})",
            filename=filename,
        )
    signature: SignatureInfo | None = None
    fmt = detect_format(data)
    if fmt in SIGNED_FORMATS and cades.is_signed_container(data):
        signed = cades.unwrap(data, limits)
        signature = SignatureInfo(signed.signers, signed.valid, signed.layers, signed.encoding,
                                  signed.warnings)
        data, fmt = signed.content, signed.format
    document = DocumentInfo(fmt, hashlib.sha256(data).hexdigest(), len(data))
    content = _read(data, fmt, filename, limits)
    if content is None:
        return _unreadable_result(filename, document, signature, fmt)
    extraction = extract(content, vocabulary)
    return FormResult(
        file=filename,
        status=_status(content, extraction),
        fields=extraction.fields,
        tavoli=extraction.tavoli,
        document=document,
        signature=signature,
        warnings=_warnings(content, extraction, signature),
        relevance=_relevance(content, extraction),
    )


def _read(data: bytes, fmt: str, filename: str | None, limits: Limits) -> FormContent | None:
    try:
        if fmt == "pdf":
            return read_pdf(data, limits)
        if fmt == "docx":
            return read_docx(data, limits)
    except UnreadableInput as exc:
        if exc.filename is None:
            exc.filename = filename
        raise
    if fmt in UNSUPPORTED_DOCUMENTS or fmt in IMAGE_FORMATS:
        return None
    raise UnreadableInput(_describe_unknown(fmt), filename=filename)


def _describe_unknown(fmt: str) -> str:
    if fmt == "empty":
        return "file vuoto (0 byte)"
    if fmt == "zip":
        return "archivio ZIP che non è un documento Word (.docx)"
    return f"formato non riconosciuto ({fmt}): non è un PDF, un DOCX né un file firmato .p7m"


def _unreadable_result(filename: str | None, document: DocumentInfo,
                       signature: SignatureInfo | None, fmt: str) -> FormResult:
    reason = UNSUPPORTED_DOCUMENTS.get(fmt) or f"immagine ({fmt}): serve la lettura di una persona"
    return FormResult(
        file=filename,
        status="needs_review",
        fields=MappingProxyType(dict.fromkeys(FIELDS)),
        tavoli=(),
        document=document,
        signature=signature,
        warnings=(reason, *(signature.warnings if signature else ())),
        relevance=0,
    )


def _warnings(content: FormContent, extraction: Extraction,
              signature: SignatureInfo | None) -> tuple[str, ...]:
    out: list[str] = list(content.warnings)
    if signature is not None:
        out.extend(signature.warnings)
        if not signature.valid:
            out.append("la firma digitale del documento non risulta valida")
    out.extend(extraction.warnings)
    return tuple(dict.fromkeys(out))


def _status(content: FormContent, extraction: Extraction) -> str:
    """Pages left unread (long document) or read as plain text by the second PDF engine
    (checkboxes and tables lost): a person must look, whatever the fields say."""
    if content.unread_pages or content.fallback_pages:
        return "needs_review"
    return extraction.status


def _relevance(content: FormContent, extraction: Extraction) -> int:
    if content.is_scan:
        return 1
    text = " ".join(content.lines[:400]).lower()
    markers = sum(1 for m in _MARKERS if m in text)
    found = sum(1 for v in extraction.fields.values() if v)
    return markers + found + 2 * len(extraction.tavoli)
