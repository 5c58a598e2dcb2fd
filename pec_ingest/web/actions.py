"""The forms that change something. Each calls the same function as the desk command
(:mod:`pec_ingest.desk.corrections`, :mod:`pec_ingest.desk.reprocess`,
:mod:`pec_ingest.desk.promote`, ``acks send|resend``) with the logged-in
staff member as the actor, so the rules and the audit entries are the commands' own.

A refused value changes nothing: the page is shown again with the reason (status 422).
A success redirects to the page with a short confirmation (``?fatto=...``).
"""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response

from parsers.errors import ParseError
from pec_ingest.commands import acks_cmd
from pec_ingest.desk import corrections, promote
from pec_ingest.desk.errors import DeskError
from pec_ingest.desk.fields import FIELDS
from pec_ingest.desk.reprocess import apply_reading, read_form
from pec_ingest.errors import NotFound, PecIngestError
from pec_ingest.isolation import ParserPool
from pec_ingest.web import documents
from pec_ingest.web.guard import SECURITY_HEADERS, Ctx
from pec_ingest.web.pages import (
    acknowledgements_page,
    load_message,
    load_submission,
    message_page,
    submission_page,
)


def _back(path: str, done: str) -> Response:
    return RedirectResponse(f"{path}?fatto={done}", status_code=303, headers=SECURITY_HEADERS)


def set_field(ctx: Ctx) -> Response:
    sub = load_submission(ctx)
    field = ctx.form.get("campo", "")
    if field not in FIELDS:
        raise NotFound(f"campo sconosciuto {field!r}")
    try:
        change = corrections.set_field(ctx.session, sub, field, ctx.form.get("valore", ""),
                                       actor=ctx.visitor.name,
                                       vocabulary=ctx.config.vocabulary)
    except DeskError as exc:
        ctx.session.rollback()
        return submission_page(ctx, load_submission(ctx), status=422,
                               error=f"Correzione rifiutata, nulla è cambiato: {exc}")
    if change.notice:
        return submission_page(ctx, sub, notice=f"Campo corretto. Nota: {change.notice}")
    return _back(f"/domande/{sub.id}", "campo")


def set_tavoli(ctx: Ctx) -> Response:
    sub = load_submission(ctx)
    chosen = [code for code in ("famiglia", "poverta", "autonomie")
              if ctx.form.get(f"tavolo_{code}")]
    ranks = {code: ctx.form.get(f"rango_{code}", "").strip() for code in chosen}
    spec = ",".join(f"{c}:{ranks[c]}" if ranks[c] else c for c in chosen)
    try:
        corrections.set_tavoli(ctx.session, sub, spec, actor=ctx.visitor.name)
    except DeskError as exc:
        ctx.session.rollback()
        return submission_page(ctx, load_submission(ctx), status=422,
                               error=f"Tavoli non cambiati: {exc}")
    return _back(f"/domande/{sub.id}", "tavoli")


def decide(ctx: Ctx) -> Response:
    sub = load_submission(ctx)
    decision = ctx.form.get("decisione", "")
    try:
        corrections.decide(ctx.session, sub, decision, actor=ctx.visitor.name,
                           note=ctx.form.get("motivo", "").strip() or None)
    except DeskError as exc:
        ctx.session.rollback()
        return submission_page(ctx, load_submission(ctx), status=422, error=str(exc))
    return _back(f"/domande/{sub.id}", decision)


def decide_message(ctx: Ctx) -> Response:
    msg = load_message(ctx)
    try:
        corrections.decide(ctx.session, msg, ctx.form.get("decisione", ""),
                           actor=ctx.visitor.name,
                           note=ctx.form.get("motivo", "").strip() or None)
    except DeskError as exc:
        ctx.session.rollback()
        return message_page(ctx, load_message(ctx), status=422, error=str(exc))
    return _back(f"/messaggi/{msg.id}", "chiuso")


def _parser_pool(ctx: Ctx) -> ParserPool:
    """A parser child of its own for one request, as the commands have."""
    p = ctx.config.parser
    return ParserPool(ctx.config.vocabulary, ctx.config.limits, timeout=p.timeout_seconds,
                      memory_mb=p.memory_limit_mb, size=1)


def promote_message(ctx: Ctx) -> Response:
    """A message that really is an application becomes a submission (audited)."""
    msg = load_message(ctx)
    note = ctx.form.get("motivo", "").strip()
    try:
        promote.check_promotable(ctx.session, msg)
        if not note:
            raise DeskError("indicare perché il messaggio è una domanda (motivo)")
        raw = documents.raw_message(ctx.config, msg)
        ctx.session.rollback()  # parse with no transaction open: the daemon keeps writing
        with _parser_pool(ctx) as pool:
            envelope, parsed = promote.read_message(raw, ctx.config, pool.parse_many)
        sub = promote.promote(ctx.session, load_message(ctx), envelope, parsed,
                              config=ctx.config, actor=ctx.visitor.name, note=note)
    except (DeskError, ParseError) as exc:
        ctx.session.rollback()
        return message_page(ctx, load_message(ctx), status=422,
                            error=f"Non trasformato in domanda: {exc}")
    return _back(f"/domande/{sub.id}", "trasformato")


def reprocess(ctx: Ctx) -> Response:
    """Read the archived message again with the current parser (the same functions as
    ``pec-ingest reprocess``): parse with no transaction open, then apply in one."""
    sub = load_submission(ctx)
    raw = documents.raw_message(ctx.config, sub.message)
    sub_id = sub.id
    ctx.session.rollback()
    try:
        with _parser_pool(ctx) as pool:
            envelope, chosen = read_form(raw, ctx.config, pool.parse_many)
    except ParseError as exc:
        return submission_page(ctx, load_submission(ctx), status=422,
                               error=f"Rilettura non riuscita: {exc}")
    apply_reading(ctx.session, load_submission(ctx), envelope, chosen, config=ctx.config,
                  actor=ctx.visitor.name)
    return _back(f"/domande/{sub_id}", "riletta")


def send_ack(ctx: Ctx) -> Response:
    sub = load_submission(ctx)
    ident, sub_id = sub.registration_number, sub.id
    ctx.session.rollback()
    try:
        acks_cmd.send(ctx.config, ctx.desk.sessions, ident, ctx.visitor.name)
    except PecIngestError as exc:
        return submission_page(ctx, load_submission(ctx), status=422, error=str(exc))
    return _back(f"/domande/{sub_id}", "ricevuta")


def resend_ack(ctx: Ctx) -> Response:
    ack_id = int(ctx.request.path_params["ack_id"])
    ctx.session.rollback()
    try:
        acks_cmd.resend(ctx.config, ctx.desk.sessions, ack_id, ctx.visitor.name)
    except PecIngestError as exc:
        return acknowledgements_page(ctx, status=422, error=str(exc))
    return _back("/ricevute", "reinviata")
