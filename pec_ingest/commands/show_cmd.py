"""``pec-ingest show ID``: one submission (by id or registration number) with its history."""

from __future__ import annotations

import argparse
from typing import Any

from pec_ingest.commands.output import say
from pec_ingest.config import load_config
from pec_ingest.database import open_database
from pec_ingest.desk.queue import find_submission, reason_text
from pec_ingest.export import HEADINGS, TAVOLO_NAMES
from pec_ingest.wording import NATURA_LABELS, REVIEW_STATE_LABELS, STATUS_LABELS, word
from store.model import Submission
from store.reports import submission_history


def add_parser(sub: Any) -> None:
    p = sub.add_parser("show", help="mostra una domanda (id o numero di registrazione)")
    p.add_argument("id", help="id della domanda o numero come PDZ2019-0007")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    db = open_database(config)
    try:
        with db.sessions() as session:
            sub = find_submission(session, args.id)
            say(describe(sub, config.zone))
            history = submission_history(session, sub.organisation_id)
            if len(history) > 1:
                print("\nversioni dell'ente:")
                for h in history:
                    mark = "attuale" if h.is_current else "superata"
                    say([f"  v{h.version} {h.registration_number} "
                         f"{h.received_at.astimezone(config.zone):%d/%m/%Y %H:%M} ({mark})"])
    finally:
        db.close()
    return 0


def describe(sub: Submission, zone: Any, reasons: bool = True) -> list[str]:
    """A submission for the terminal; ``reasons=False`` leaves the open review reasons to the
    caller (``review show`` lists them once, in its own section)."""
    msg = sub.message
    lines = [
        f"domanda {sub.id}  {sub.registration_number}  (versione {sub.version}"
        f"{', attuale' if sub.is_current else ', superata'})",
        f"ricevuta il    {sub.received_at.astimezone(zone):%d/%m/%Y %H:%M:%S %Z}"
        f"{'  IN RITARDO' if sub.late else ''}"
        f"{'  FUORI PROCEDURA' if sub.out_of_procedure else ''}",
        f"mittente PEC   {msg.sender or '-'}",
        f"identificativo {msg.identificativo or '-'}",
        f"stato          {word(STATUS_LABELS, sub.status)}; revisione: "
        f"{word(REVIEW_STATE_LABELS, sub.review_state)}",
    ]
    for f in ("denominazione", "natura_giuridica", "codice_fiscale", "partita_iva",
              "sede_legale", "comune", "legale_rappresentante", "referente", "email", "pec",
              "telefono"):
        value = getattr(sub, f)
        shown = NATURA_LABELS.get(value, value) if f == "natura_giuridica" and value else value
        lines.append(f"  {HEADINGS[f]:<22} {shown or '-'}")
    for t in sub.tavoli:
        rank = f" (preferenza {t.rank})" if t.rank else ""
        lines.append(f"  Tavolo                 {TAVOLO_NAMES[t.code]}{rank}")
    for a in msg.attachments:
        signed = " firmato" + (" (firma valida)" if a.signature_valid else " (firma NON valida)") \
            if a.signed else ""
        lines.append(f"  allegato [{a.role}] {a.filename or a.path} {a.size} byte{signed}")
    lines += [f"  avviso: {w}" for w in sub.parser_warnings]
    if reasons:
        lines += [f"  DA VERIFICARE: {reason_text(r.code, r.detail)}" for r in sub.review_reasons
                  if r.resolved_at is None]
    return lines
