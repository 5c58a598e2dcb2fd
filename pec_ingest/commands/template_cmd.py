"""``pec-ingest template check BLANK``: which blank of the office's form maps to which field.

Prints every slot of the blank (empty table cell, dotted or underscored leader) with the label
next to it and the canonical field it maps to, then the slots it could not map. The
administrator completes the mapping in the configuration (``[[procedure.template_labels]]``)
and lists the blank in ``[procedure] template``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from parsers.allegato import prepare_lines
from parsers.labels import LabelMatcher
from parsers.template import build_template
from pec_ingest.blank_form import read_blank
from pec_ingest.config import load_config
from pec_ingest.errors import ConfigError


def add_parser(sub: Any) -> None:
    p = sub.add_parser("template", help="modello dell'ufficio (Allegato 1 in bianco)")
    actions = p.add_subparsers(dest="template_action", required=True)
    check = actions.add_parser("check", help="mostra quali spazi del modello corrispondono "
                                             "a quali campi, e quali non sono riconosciuti")
    check.add_argument("blank", type=Path, help="il modello in bianco (DOCX o PDF)")
    check.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    vocabulary = config.vocabulary
    try:
        raw = read_blank(args.blank)
    except ConfigError as exc:
        print(f"pec-ingest: {'; '.join(exc.problems)}", file=sys.stderr)
        return 2
    mapping = {m.label: m.field for m in config.procedure.template_labels}
    template = build_template(args.blank.name, prepare_lines(raw, vocabulary),
                              LabelMatcher(vocabulary), mapping)
    print("\n".join(describe(template.slots)))
    return 0


def describe(slots: Any) -> list[str]:
    """The report: mapped slots, then the ones the administrator must map."""
    mapped = [s for s in slots if s.field]
    unmapped = [s for s in slots if not s.field]
    out = [f"spazi da compilare nel modello: {len(slots)} ({len(mapped)} riconosciuti)"]
    out += [f"  riga {s.line + 1:>3}  «{s.label}» -> {s.field}" for s in mapped]
    if unmapped:
        out.append("non riconosciuti (i valori scritti qui non vengono letti dal modello):")
        out += [f"  riga {s.line + 1:>3}  «{s.label or '(senza etichetta)'}»" for s in unmapped]
        out.append("per assegnarli a un campo, nella configurazione:")
        out.append('  [[procedure.template_labels]]\n  label = "ETICHETTA"\n  field = "CAMPO"')
    return out
