"""Retention on the desk (``responsabile`` only): the same purge as ``pec-ingest purge``.

``GET /conservazione`` asks for a date; ``POST /conservazione/anteprima`` shows what would be
removed (the command's ``--dry-run``); ``POST /conservazione`` removes it, but only when the
list is still the one shown in the preview and the person ticked the confirmation. The plan,
the audit entry and the file removal are :mod:`pec_ingest.desk.purge`'s own: files are removed
after the transaction commits, so a failure never loses evidence.
"""

from __future__ import annotations

from starlette.responses import Response

from pec_ingest.commands.purge_cmd import describe, open_procedure
from pec_ingest.desk.errors import DeskError
from pec_ingest.desk.purge import PurgePlan, execute_purge, plan_purge, remove_files
from pec_ingest.desk.staff import parse_day, start_of_day
from pec_ingest.web.guard import Ctx
from store.archive import Archive
from store.reports import stats


def page(ctx: Ctx) -> Response:
    return ctx.render("retention.html.j2", day="", plan=None, lines=[], ids="", error=None,
                      done=None)


def preview(ctx: Ctx) -> Response:
    day = ctx.form.get("data", "").strip()
    try:
        plan = _plan(ctx, day)
    except DeskError as exc:
        return ctx.render("retention.html.j2", 422, day=day, plan=None, lines=[], ids="",
                          error=str(exc), done=None)
    return ctx.render("retention.html.j2", day=day, plan=plan,
                      lines=describe(plan, ctx.config), ids=_ids(plan), error=None, done=None)


def purge(ctx: Ctx) -> Response:
    day = ctx.form.get("data", "").strip()
    try:
        plan = _plan(ctx, day)
        if ctx.form.get("elenco", "") != _ids(plan):
            raise DeskError("l'elenco è cambiato dopo l'anteprima: rifare l'anteprima")
        if ctx.form.get("conferma") != "si":
            raise DeskError("spuntare la conferma: la cancellazione non si può annullare")
        if not plan.items:
            raise DeskError("non c'è nulla da cancellare prima di questa data")
        entry = execute_purge(ctx.session, _archive(ctx), plan, actor=ctx.visitor.name,
                              figures=stats(ctx.session))
        ctx.session.commit()  # the evidence goes only once the database has forgotten it
    except DeskError as exc:
        ctx.session.rollback()
        return ctx.render("retention.html.j2", 422, day=day, plan=None, lines=[], ids="",
                          error=f"Nulla è stato cancellato: {exc}", done=None)
    remove_files(_archive(ctx), plan)
    done = (f"Cancellazione eseguita (registro n. {entry.id}): {len(plan.items)} messaggi, "
            f"{len(plan.files)} file originali rimossi.")
    return ctx.render("retention.html.j2", day="", plan=None, lines=[], ids="", error=None,
                      done=done)


def _plan(ctx: Ctx, day: str) -> PurgePlan:
    if not day:
        raise DeskError("indicare la data (GG/MM/AAAA)")
    before = start_of_day(parse_day(day), ctx.config.zone)
    return plan_purge(ctx.session, _archive(ctx), before,
                      open_procedure=open_procedure(ctx.config))


def _archive(ctx: Ctx) -> Archive:
    return Archive(ctx.config.archive_dir)


def _ids(plan: PurgePlan) -> str:
    return ",".join(str(i.message_id) for i in plan.items)
