"""``pec-ingest skipped``: the mail the poll saw on the server but did not download, and why
(too big, no attachments, not PEC, a receipt of another sender...). Nothing is lost: the
message is still in the mailbox; this list tells staff what to look at there.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from pec_ingest.commands.output import say
from pec_ingest.config import load_config
from pec_ingest.database import open_database
from pec_ingest.desk.staff import parse_day, start_of_day
from store.mailbox_state import skipped_messages

SKIP_LABELS = {"too_big": "troppo grande", "no_attachments": "senza allegati",
               "not_pec": "non è una PEC", "other_receipt": "ricevuta di un altro mittente"}


def add_parser(sub: Any) -> None:
    p = sub.add_parser("skipped", help="messaggi della casella non scaricati, con il motivo")
    p.add_argument("--mailbox", metavar="NOME", help="solo questa casella")
    p.add_argument("--since", metavar="DATA", help="visti da questa data (AAAA-MM-GG o "
                                                    "GG/MM/AAAA)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    since = start_of_day(parse_day(args.since), config.zone) if args.since else None
    db = open_database(config)
    try:
        with db.sessions() as session:
            rows: list[dict[str, Any]] = [
                {"id": s.id, "mailbox": s.mailbox, "folder": s.folder, "uid": s.uid,
                 "seen_at": s.seen_at, "reason": s.reason, "detail": s.detail, "size": s.size,
                 "sender": s.sender, "subject": s.subject}
                for s in skipped_messages(session, args.mailbox)
                if since is None or s.seen_at >= since]
    finally:
        db.close()
    if args.format == "json":
        print(json.dumps([{**r, "seen_at": r["seen_at"].isoformat()} for r in rows],
                         ensure_ascii=False, indent=2))
        return 0
    if not rows:
        say(["Nessun messaggio lasciato sul server."])
        return 0
    lines = [f"{len(rows)} messaggi non scaricati (restano nella casella):", ""]
    for r in rows:
        lines.append(f"{r['seen_at'].astimezone(config.zone):%d/%m/%Y %H:%M}  "
                     f"{r['mailbox']}/{r['folder']} uid {r['uid']}  "
                     f"{SKIP_LABELS.get(r['reason'], r['reason'])}  {r['size']:,} byte"
                     .replace(",", "."))
        lines.append(f"    da {r['sender'] or '-'}: {r['subject'] or '(senza oggetto)'}")
        if r["detail"]:
            lines.append(f"    {r['detail']}")
    say(lines)
    return 0
