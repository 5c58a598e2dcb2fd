"""The ``pec-ingest`` command line: one sub-command per staff or operator task.

Each sub-command lives in its own module under :mod:`pec_ingest.commands` and registers
itself through ``add_parser(subparsers)``; this module only wires them and maps errors to
exit codes (0 ok, 1 failure, 2 unreadable input / usage, 78 configuration error).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pec_ingest import __version__
from pec_ingest.commands import (
    adherents_cmd,
    db_cmd,
    demo_cmd,
    ingest_cmd,
    inspect_cmd,
    parse_cmd,
    show_cmd,
    stats_cmd,
)
from pec_ingest.errors import ConfigError, PecIngestError

EX_CONFIG = 78
COMMANDS = (demo_cmd, ingest_cmd, adherents_cmd, show_cmd, stats_cmd, inspect_cmd, parse_cmd,
            db_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pec-ingest",
        description="Raccolta delle adesioni (Allegato 1) arrivate via PEC.",
    )
    parser.add_argument("--version", action="version", version=f"pec-ingest {__version__}")
    parser.add_argument("--config", metavar="PATH",
                        help="file di configurazione TOML (default: $PEC_INGEST_CONFIG, "
                             "poi i valori predefiniti)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log di debug")
    sub = parser.add_subparsers(dest="command", metavar="COMANDO", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"pec-ingest: configurazione non valida:\n{exc}", file=sys.stderr)
        return EX_CONFIG
    except PecIngestError as exc:
        print(f"pec-ingest: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
