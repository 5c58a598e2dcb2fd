"""The pages that only read: dashboard, review queue, a submission, the messages that are not
submissions, the adherents (and their downloads), the acknowledgements."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from starlette.responses import Response

from parsers.vocabulary import NATURA_CODES
from pec_ingest import export
from pec_ingest.desk.fields import FIELDS
from pec_ingest.desk.promote import PROMOTABLE
from pec_ingest.desk.queue import build_queue
from pec_ingest.errors import NotFound
from pec_ingest.web import chart as chart_svg
from pec_ingest.web.guard import SECURITY_HEADERS, Ctx
from pec_ingest.web.listing import PAGE, adherent_filters, adherents_page, filtered_adherents
from store.acknowledgements import acknowledgements_of, list_acknowledgements
from store.audit import audit_trail, corrections_of
from store.base import ACK_STATUSES
from store.model import Acknowledgement, Message, ReviewReason, SkippedMessage, Submission
from store.reports import stats, submission_history

QUEUE_PAGE = 200
NOT_SUBMISSIONS = ("ignored", "receipt", "anomaly", "unreadable", "timeout", "failed",
                   "quarantined", "duplicate")


def dashboard(ctx: Ctx) -> Response:
    counts = stats(ctx.session)
    acks = dict(ctx.session.execute(select(Acknowledgement.status, func.count()).group_by(
        Acknowledgement.status)).all())
    return ctx.render("dashboard.html.j2", stats=counts,
                      acks={s: int(acks.get(s, 0)) for s in ACK_STATUSES})


def chart(ctx: Ctx) -> Response:
    svg = chart_svg.adherents_svg(ctx.session, ctx.config)
    return Response(svg, media_type="image/svg+xml", headers=SECURITY_HEADERS)


def queue(ctx: Ctx) -> Response:
    items = build_queue(ctx.session)
    return ctx.render("queue.html.j2", items=items[:QUEUE_PAGE], total=len(items))


def load_submission(ctx: Ctx) -> Submission:
    sub_id = int(ctx.request.path_params["sub_id"])
    sub = ctx.session.get(Submission, sub_id)
    if sub is None:
        raise NotFound(f"nessuna domanda con id {sub_id}")
    return sub


def submission(ctx: Ctx) -> Response:
    return submission_page(ctx, load_submission(ctx))


def submission_page(ctx: Ctx, sub: Submission, *, error: str | None = None,
                    notice: str | None = None, status: int = 200) -> Response:
    return ctx.render(
        "submission.html.j2", status, sub=sub, fields=FIELDS, error=error, notice=notice,
        done=ctx.request.query_params.get("fatto"),
        corrected=corrections_of(ctx.session, sub.id),
        reasons=[r for r in sub.review_reasons if r.resolved_at is None],
        versions=submission_history(ctx.session, sub.organisation_id),
        trail=audit_trail(ctx.session, submission_id=sub.id),
        acks=acknowledgements_of(ctx.session, sub.id),
        document_kind=(sub.attachment.format if sub.attachment else None),
        values={**{f: getattr(sub, f) or "" for f in FIELDS}, **ctx.form})


def messages(ctx: Ctx) -> Response:
    outcome = ctx.request.query_params.get("esito") or None
    query = select(Message).where(Message.outcome.in_(NOT_SUBMISSIONS)).order_by(
        Message.first_seen_at.desc()).limit(500)
    if outcome in NOT_SUBMISSIONS:
        query = query.where(Message.outcome == outcome)
    skipped = [] if outcome else list(ctx.session.scalars(select(SkippedMessage).order_by(
        SkippedMessage.seen_at.desc()).limit(500)).all())
    return ctx.render("messages.html.j2", messages=list(ctx.session.scalars(query).all()),
                      skipped=skipped, outcome=outcome, outcomes=NOT_SUBMISSIONS)


def load_message(ctx: Ctx) -> Message:
    msg_id = int(ctx.request.path_params["msg_id"])
    msg = ctx.session.get(Message, msg_id)
    if msg is None:
        raise NotFound(f"nessun messaggio con id {msg_id}")
    return msg


def message(ctx: Ctx) -> Response:
    return message_page(ctx, load_message(ctx))


def message_page(ctx: Ctx, msg: Message, *, error: str | None = None,
                 status: int = 200) -> Response:
    sub = ctx.session.scalars(select(Submission).where(
        Submission.message_id == msg.id)).one_or_none()
    return ctx.render("message.html.j2", status, msg=msg, sub=sub, error=error,
                      promotable=sub is None and msg.outcome in PROMOTABLE,
                      reasons=[r for r in _message_reasons(ctx, msg) if r.resolved_at is None],
                      trail=audit_trail(ctx.session, message_id=msg.id),
                      done=ctx.request.query_params.get("fatto"))


def _message_reasons(ctx: Ctx, msg: Message) -> list[ReviewReason]:
    return list(ctx.session.scalars(select(ReviewReason).where(
        ReviewReason.message_id == msg.id).order_by(ReviewReason.id)).all())


def adherents(ctx: Ctx) -> Response:
    chosen = adherent_filters(ctx.request.query_params)
    page = _page_number(ctx.request.query_params.get("pagina"))
    rows, total = adherents_page(ctx.session, ctx.config, chosen, page)
    return ctx.render("adherents.html.j2", rows=rows, total=total, chosen=chosen, page=page,
                      pages=max((total + PAGE - 1) // PAGE, 1), page_size=PAGE,
                      query=urlencode([(k, v) for k, v in ctx.request.query_params.multi_items()
                                       if k != "pagina"]), tavoli=export.TAVOLO_NAMES,
                      nature=NATURA_CODES)


def _page_number(text: str | None) -> int:
    return int(text) - 1 if text and text.isdigit() and 0 < int(text) < 100_000 else 0


def _export_rows(ctx: Ctx) -> list[dict[str, Any]]:
    rows = filtered_adherents(ctx.session, ctx.config, adherent_filters(ctx.request.query_params))
    return [{k: v for k, v in r.items() if k != "id"} for r in rows]


def adherents_xlsx(ctx: Ctx) -> Response:
    rows = _export_rows(ctx)
    return Response(export.to_xlsx(rows), headers={
        **SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="aderenti.xlsx"'},
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def adherents_csv(ctx: Ctx) -> Response:
    rows = _export_rows(ctx)
    return Response(export.to_csv(rows, ";"), media_type="text/csv; charset=utf-8", headers={
        **SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="aderenti.csv"'})


def acknowledgements(ctx: Ctx) -> Response:
    return acknowledgements_page(ctx)


def acknowledgements_page(ctx: Ctx, *, error: str | None = None,
                          status: int = 200) -> Response:
    wanted = ctx.request.query_params.get("stato") or None
    wanted = wanted if wanted in ACK_STATUSES else None
    rows = list_acknowledgements(ctx.session, status=wanted)
    return ctx.render("acks.html.j2", status, acks=rows, wanted=wanted, statuses=ACK_STATUSES,
                      error=error, done=ctx.request.query_params.get("fatto"))

