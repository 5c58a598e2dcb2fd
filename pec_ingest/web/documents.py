"""The original documents, from the archive, to logged-in staff only.

The endpoints take ids (a submission, or a message and the position of its attachment), never
a path: what is served is found by reading the archived message again. A signed ``.p7m`` is
shown as the document inside it. PDF goes to the browser's viewer; DOCX is rendered to HTML
with mammoth; anything else is offered as a download. HTML answers are sandboxed (no
scripts): the documents come from outside.
"""

from __future__ import annotations

import html
import io
import re
import zipfile
from dataclasses import dataclass

import mammoth
from starlette.responses import Response

from parsers import cades
from parsers.envelope import parse_envelope
from parsers.errors import ParseError
from pec_ingest.config import Config
from pec_ingest.desk.attachments import safe_name
from pec_ingest.errors import NotFound
from pec_ingest.web.guard import Ctx
from pec_ingest.web.pages import load_submission
from store.archive import Archive
from store.errors import ArchiveMissing
from store.model import Message

SANDBOX = {"Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; "
                                      "style-src 'unsafe-inline'; frame-ancestors 'self'",
           "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store",
           "Referrer-Policy": "no-referrer"}
# Chrome's PDF viewer does not run in a sandboxed document: a PDF gets the same headers but
# no ``sandbox`` (its scripts, if any, are the viewer's business, not the page's).
PDF_HEADERS = {**SANDBOX, "Content-Security-Policy": "default-src 'none'; "
                                                    "frame-ancestors 'self'"}


@dataclass(frozen=True)
class Document:
    name: str
    data: bytes
    kind: str  # pdf, docx or other


def _kind(data: bytes) -> str:
    if data.startswith(b"%PDF"):
        return "pdf"
    return "docx" if data.startswith(b"PK") else "other"


def raw_message(config: Config, msg: Message) -> bytes:
    try:
        return Archive(config.archive_dir).read(msg.archive_path)
    except ArchiveMissing as exc:
        raise NotFound("il messaggio originale non è più nell'archivio (cancellato per la "
                       "conservazione dei dati?)") from exc


def attachment(config: Config, msg: Message, index: int | None = None,
               sha256: str | None = None) -> Document:
    """The attachment at ``index`` (1-based) or with ``sha256``, unwrapped from a .p7m."""
    try:
        envelope = parse_envelope(raw_message(config, msg), config.limits)
    except ParseError as exc:
        raise NotFound(f"il messaggio archiviato non si legge più: {exc}") from exc
    found = [a for n, a in enumerate(envelope.attachments, start=1)
             if n == index or (sha256 is not None and a.sha256 == sha256)]
    if not found:
        raise NotFound("allegato non trovato nel messaggio archiviato")
    att = found[0]
    name, data = safe_name(att.filename, "allegato"), att.data
    if cades.is_signed_container(data):
        try:
            data = cades.unwrap(data, config.limits).content
            name = re.sub(r"\.(p7m|m7m|tsd)$", "", name, flags=re.IGNORECASE)
        except ParseError:
            pass
    return Document(name, data, _kind(data))


def respond(doc: Document) -> Response:
    quoted = doc.name.encode("ascii", "replace").decode().replace('"', "_")
    if doc.kind == "pdf":
        return Response(doc.data, media_type="application/pdf", headers={
            **PDF_HEADERS, "Content-Disposition": f'inline; filename="{quoted}"'})
    if doc.kind == "docx":
        try:
            body = mammoth.convert_to_html(io.BytesIO(doc.data)).value
        except (zipfile.BadZipFile, ValueError, OSError) as exc:  # a damaged DOCX
            body = f"<p>Documento Word non leggibile: {html.escape(str(exc))}</p>"
        page = (f"<!doctype html><html lang='it'><meta charset='utf-8'><title>"
                f"{html.escape(doc.name)}</title><body style='font-family:sans-serif;"
                f"max-width:50em;margin:1em'>{body}</body></html>")
        return Response(page, media_type="text/html; charset=utf-8", headers=SANDBOX)
    return Response(doc.data, media_type="application/octet-stream", headers={
        **SANDBOX, "Content-Disposition": f'attachment; filename="{quoted}"'})


def form_document(ctx: Ctx) -> Response:
    """The document the machine read for this submission."""
    sub = load_submission(ctx)
    if sub.attachment is None:
        raise NotFound("questa domanda non ha un documento letto")
    return respond(attachment(ctx.config, sub.message, sha256=sub.attachment.sha256))


def message_attachment(ctx: Ctx) -> Response:
    msg = ctx.session.get(Message, int(ctx.request.path_params["msg_id"]))
    if msg is None:
        raise NotFound("messaggio non trovato")
    return respond(attachment(ctx.config, msg, index=int(ctx.request.path_params["index"])))
