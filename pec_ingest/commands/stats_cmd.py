"""``pec-ingest stats``: counts per table, comune, legal form, on time vs late, review queue."""

from __future__ import annotations

import argparse
import json
from typing import Any

from pec_ingest.config import load_config
from pec_ingest.database import open_database
from pec_ingest.export import TAVOLO_NAMES
from pec_ingest.sheets import printable
from pec_ingest.wording import NATURA_LABELS, OUTCOME_LABELS, STATUS_LABELS
from store.reports import stats


def add_parser(sub: Any) -> None:
    p = sub.add_parser("stats", help="conteggi per tavolo, comune, natura giuridica, ritardi")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    db = open_database(config)
    try:
        with db.sessions() as session:
            figures = stats(session)
    finally:
        db.close()
    if args.format == "json":
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    else:
        print("\n".join(render(figures)))
    return 0


def _rows(counts: dict[str, int], total: int, names: dict[str, str] | None = None) -> list[str]:
    """Aligned ``label  count  share`` lines; the share is of ``total`` adherents."""
    out = []
    for key, n in counts.items():
        share = f"{100 * n / total:5.1f}%" if total else "    -"
        out.append(f"  {printable((names or {}).get(key, key)):<45} {n:>5}  {share}")
    return out


def render(s: dict[str, Any]) -> list[str]:
    """The figures as a readable table (counts and shares of the adherents)."""
    total = int(s["adherents"])
    lines = [f"Aderenti: {total}  (nei termini {s['on_time']}, in ritardo {s['late']}, "
             f"fuori procedura {s['out_of_procedure']})",
             f"In revisione (con motivi aperti, domande e messaggi): {s['review_queue']}; "
             f"respinte (escluse): {s.get('rejected', 0)}",
             "",
             f"  {'Per tavolo':<45} {'enti':>5}  {'quota':>6}"]
    lines += _rows(s["per_tavolo"], total, TAVOLO_NAMES)
    for title, key, names in (("Per comune", "per_comune", None),
                              ("Per natura giuridica", "per_natura_giuridica", NATURA_LABELS),
                              ("Per stato dei dati", "per_status", STATUS_LABELS)):
        lines += ["", f"  {title:<45} {'enti':>5}  {'quota':>6}", *_rows(s[key], total, names)]
    lines += ["", f"  {'Messaggi per esito':<45} {'n.':>5}"]
    lines += [f"  {OUTCOME_LABELS.get(k, k):<45} {n:>5}" for k, n in s["messages"].items() if n]
    return lines
