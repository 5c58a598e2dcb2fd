"""``pec-ingest inspect MESSAGE.eml``: what a PEC message is, without touching the database."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from parsers.envelope import PecMessage, parse_envelope


def add_parser(sub: Any) -> None:
    p = sub.add_parser("inspect", help="mostra tipo, daticert e allegati di un messaggio PEC")
    p.add_argument("message", type=Path, help="file .eml")
    p.add_argument("--json", action="store_true", help="output JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        raw = args.message.read_bytes()
    except OSError as exc:
        print(f"pec-ingest: impossibile leggere {args.message}: {exc.strerror}", file=sys.stderr)
        return 2
    msg = parse_envelope(raw)
    if args.json:
        json.dump(msg.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print("\n".join(describe(msg)))
    return 0


def describe(msg: PecMessage) -> list[str]:
    """Readable lines for a terminal."""
    lines = [f"tipo:          {msg.kind}", f"oggetto:       {msg.subject or '-'}",
             f"mittente PEC:  {msg.sender or '-'}",
             f"riferimento:   {msg.riferimento_message_id or '-'}"]
    if msg.daticert is not None:
        d = msg.daticert
        lines += [f"identificativo: {d.identificativo or '-'}",
                  f"data legale:   {d.data.isoformat() if d.data else '-'}",
                  f"gestore:       {d.gestore_emittente or '-'}"]
    sig = msg.signature
    verdict = "assente" if not sig.present else ("valida" if sig.valid else "NON valida")
    lines.append(f"firma gestore: {verdict}" + (f" ({sig.reason})" if sig.reason else ""))
    for a in msg.attachments:
        lines.append(f"allegato:      {a.filename or '(senza nome)'}  {a.content_type}  "
                     f"{a.size} byte  sha256={a.sha256[:16]}…")
    lines += [f"avviso:        {w}" for w in msg.warnings]
    return lines
