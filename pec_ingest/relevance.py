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

from parsers.envelope import Attachment
from parsers.sniff import detect_format
from pec_ingest.config import RelevanceSection
from pec_ingest.isolation import IsolatedResult

# Formats worth handing to the form parser (images and old formats give needs_review).
FORM_FORMATS = frozenset({"pdf", "docx", "p7m", "pem", "base64", "odt", "doc"})
IMAGE_FORMATS = frozenset({"png", "jpeg", "tiff"})
# Signed files whose name says what is inside and that is never a form (e-invoices).
_NOT_FORMS = (".xml.p7m", ".xml", ".p7s", ".tsr", ".ics", ".vcf")


def _fold(text: str) -> str:
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


def decide(subject: str | None, attachments: Sequence[Attachment],
           parsed: Sequence[tuple[Attachment, IsolatedResult]],
           settings: RelevanceSection) -> Decision:
    """Relevance of one message from its subject, attachment names and parse results."""
    readable = [(a, r) for a, r in parsed if r.ok]
    best = max(readable, key=lambda ar: ar[1].relevance, default=None)
    if best is not None and best[1].relevance >= settings.min_form_relevance:
        return Decision(True, f"allegato riconosciuto come Allegato 1: {best[0].filename}", best)
    hint = find_keyword(subject, settings.subject_keywords)
    where = "oggetto"
    if hint is None:
        where = "nome dell'allegato"
        hint = next((k for a in attachments
                     if (k := find_keyword(a.filename, settings.filename_keywords))), None)
    if hint is not None:
        form = best or next(iter(parsed), None)
        return Decision(True, f"{where} contiene «{hint}» ma nessun allegato è leggibile come "
                              "Allegato 1", form, hint)
    return Decision(False, "nessun allegato riconoscibile come Allegato 1 e nessuna parola "
                           "chiave nell'oggetto o nei nomi degli allegati")
