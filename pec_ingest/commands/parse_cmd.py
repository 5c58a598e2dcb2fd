"""``pec-ingest parse FILE``: read an Allegato 1 (docx, pdf, p7m, or the attachments of an .eml).

``--score DIR`` runs the parser over a folder of files with ``*.truth.json`` and prints
per-field right/missing/wrong and the totals.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from parsers.envelope import parse_envelope
from parsers.errors import ParseError
from parsers.form import FormResult, parse_form
from parsers.sniff import detect_format
from parsers.vocabulary import Vocabulary
from pec_ingest.config import load_config
from pec_ingest.scoring import format_report, score_folder

FORM_FORMATS = frozenset({"pdf", "docx", "p7m", "pem", "base64", "odt", "doc"})


def add_parser(sub: Any) -> None:
    p = sub.add_parser("parse",
                       help="legge un Allegato 1 (docx, pdf, p7m o gli allegati di un .eml)")
    p.add_argument("file", type=Path, nargs="?", help="documento o messaggio .eml")
    p.add_argument("--json", action="store_true", help="output JSON")
    p.add_argument("--score", type=Path, metavar="DIR",
                   help="misura il parser sui file con *.truth.json nella cartella")
    p.add_argument("--quiet", action="store_true", help="con --score: solo i totali")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    vocabulary = config.vocabulary
    if args.score is not None:
        return _score(args.score, vocabulary, args.json, args.quiet)
    if args.file is None:
        print("pec-ingest parse: indicare un FILE oppure --score DIR", file=sys.stderr)
        return 2
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        print(f"pec-ingest: impossibile leggere {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        result = parse_file(data, args.file.name, vocabulary)
    except ParseError as exc:
        print(f"pec-ingest: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(result.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print("\n".join(describe(result)))
    return 0


def parse_file(data: bytes, name: str, vocabulary: Vocabulary) -> FormResult:
    """Parse a document, or the most Allegato-like attachment of a message."""
    if detect_format(data) != "eml" and not name.lower().endswith(".eml"):
        return parse_form(data, name, vocabulary)
    message = parse_envelope(data)
    best: FormResult | None = None
    errors: list[str] = []
    for att in message.attachments:
        if detect_format(att.data) not in FORM_FORMATS:
            continue
        try:
            result = parse_form(att.data, f"{name}/{att.filename or att.path}", vocabulary)
        except ParseError as exc:
            errors.append(str(exc))
            continue
        if best is None or result.relevance > best.relevance:
            best = result
    if best is None:
        reason = "; ".join(errors) or "nessun allegato PDF/DOCX/p7m nel messaggio"
        raise ParseError(reason, filename=name)
    return best


def describe(result: FormResult) -> list[str]:
    lines = [f"file:    {result.file}", f"stato:   {result.status}",
             f"formato: {result.document.format}  sha256={result.document.sha256[:16]}…"]
    lines += [f"  {k:<22} {v if v is not None else '-'}" for k, v in result.fields.items()]
    tavoli = ", ".join(t.code + (f" ({t.rank})" if t.rank else "") for t in result.tavoli)
    lines.append(f"  {'tavoli':<22} {tavoli or '-'}")
    if result.signature is not None:
        who = ", ".join(f"{s.name} [{s.codice_fiscale or '?'}]" for s in result.signature.signers)
        lines.append(f"firma:   {'valida' if result.signature.valid else 'NON valida'}: {who}")
    lines += [f"avviso:  {w}" for w in result.warnings]
    return lines


def _score(folder: Path, vocabulary: Vocabulary, as_json: bool, quiet: bool) -> int:
    if not folder.is_dir():
        print(f"pec-ingest: {folder} non è una cartella", file=sys.stderr)
        return 2

    def run_one(path: Path) -> tuple[dict[str, Any] | None, str | None]:
        try:
            return parse_file(path.read_bytes(), path.name, vocabulary).to_json(), None
        except ParseError as exc:
            return None, str(exc)

    report = score_folder(folder, run_one)
    if as_json:
        json.dump({"summary": report.summary(), "fields": report.totals()}, sys.stdout, indent=2)
        print()
    else:
        print("\n".join(format_report(report, verbose=not quiet)))
    return 0
