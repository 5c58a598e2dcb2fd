"""Does a message belong to the procedure? Decided cheaply and explained in one sentence.

Order of evidence: an attachment that reads as an Allegato 1 (labels, table names and form
words recognised) is decisive; otherwise keywords in the subject or in attachment names make
the message relevant but unreadable (staff review); otherwise it is unrelated mail (invoices
from SdI, other offices' business) and is recorded as ignored with its metadata only.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from parsers.envelope import Attachment
from parsers.sniff import detect_format
from pec_ingest.config import RelevanceSection
from pec_ingest.isolation import IsolatedResult

# Formats worth handing to the form parser (images and old formats give needs_review).
FORM_FORMATS = frozenset({"pdf", "docx", "p7m", "pem", "base64", "odt", "doc"})
IMAGE_FORMATS = frozenset({"png", "jpeg", "tiff"})
# Signed files whose name says what is inside and that is never a form (e-invoices).
_NOT_FORMS = (".xml.p7m", ".xml", ".p7s", ".tsr", ".ics", ".vcf")


@lru_cache(maxsize=1024)  # the configured keywords, folded once each
def _fold(text: str) -> str:
    if text.isascii():  # nothing to decompose, no accent to drop
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def find_keyword(text: str | None, keywords: Iterable[str]) -> str | None:
    """The first keyword contained in ``text`` (case and accents ignored)."""
    if not text:
        return None
    folded = _fold(text)
    return next((k for k in keywords if _fold(k) in folded), None)


def form_candidates(attachments: Sequence[Attachment], max_bytes: int) -> list[Attachment]:
    """Attachments the form parser should read, cheapest evidence first."""
    out = []
    for att in attachments:
        name = (att.filename or "").casefold()
        if name.endswith(_NOT_FORMS) or att.size == 0 or att.size > max_bytes:
            continue
        fmt = detect_format(att.data[:4096] if att.size > 4096 else att.data)
        if fmt in FORM_FORMATS or fmt in IMAGE_FORMATS or (fmt == "zip" and "docx" in name):
            out.append(att)
    return out


@dataclass(frozen=True)
class Decision:
    relevant: bool
    reason: str
    form: tuple[Attachment, IsolatedResult] | None = None
    hint: str | None = None


def unreadable(result: IsolatedResult) -> bool:
    """The document could not be read as text: a scan, a photo, an unsupported format, a
    parser that failed or overran. Only then may keywords stand in for its content."""
    if not result.ok or result.result is None:
        return True
    return result.result.get("status") == "needs_review" and result.relevance <= 1


def _hint(subject: str | None, documents: Sequence[Attachment],
          settings: RelevanceSection) -> tuple[str, str] | None:
    """(where, keyword) of the first keyword in the subject or a document's name."""
    keyword = find_keyword(subject, settings.subject_keywords)
    if keyword is not None:
        return "oggetto", keyword
    for att in documents:
        keyword = find_keyword(att.filename, settings.filename_keywords)
        if keyword is not None:
            return "nome dell'allegato", keyword
    return None


def decide(subject: str | None, attachments: Sequence[Attachment],
           parsed: Sequence[tuple[Attachment, IsolatedResult]],
           settings: RelevanceSection) -> Decision:
    """Relevance of one message from its subject, attachment names and parse results.

    Relevant: an attachment reads as an Allegato 1; or a document could not be read (scan,
    photo, timeout...) and the subject or a document's name carries a keyword. A document that
    reads fine but is no Allegato 1 is not made relevant by keywords: certified mail about the
    Piano di Zona is not an application. Keywords without a relevant document give ``hint``:
    the message is ignored but listed for review.
    """
    readable = [(a, r) for a, r in parsed if r.ok]
    best = max(readable, key=lambda ar: ar[1].relevance, default=None)
    if best is not None and best[1].relevance >= settings.min_form_relevance:
        return Decision(True, f"allegato riconosciuto come Allegato 1: {best[0].filename}", best)
    hint = _hint(subject, [a for a, _ in parsed], settings)
    unread = [(a, r) for a, r in parsed if unreadable(r)]
    if hint is not None and unread:
        where, keyword = hint
        return Decision(True, f"{where} contiene «{keyword}» e il documento "
                              f"{unread[0][0].filename or ''} non è leggibile in automatico",
                        unread[0], keyword)
    if hint is None:
        hint = _hint(subject, attachments, settings)
    reason = ("nessun allegato riconoscibile come Allegato 1 e nessuna parola chiave "
              "nell'oggetto o nei nomi degli allegati")
    if hint is not None:
        reason = (f"{hint[0]} contiene «{hint[1]}» ma nessun allegato è un Allegato 1 "
                  "(né un documento illeggibile): non registrato come adesione")
    return Decision(False, reason, hint=hint[1] if hint else None)
