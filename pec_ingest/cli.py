"""The ``pec-ingest`` command line: one sub-command per staff or operator task.

Each sub-command lives in its own module under :mod:`pec_ingest.commands` and registers
itself through ``add_parser(subparsers)``; this module only wires them and maps errors to
exit codes (0 ok, 1 failure, 2 unreadable input / usage, 78 configuration error, 130
interrupted with Ctrl-C). argparse speaks Italian (:mod:`pec_ingest.commands.italian`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from pec_ingest import __version__
from pec_ingest.commands import (
    acks_cmd,
    adherents_cmd,
    attendance_cmd,
    check_config_cmd,
    db_cmd,
    demo_cmd,
    desk_cmd,
    ingest_cmd,
    inspect_cmd,
    parse_cmd,
    poll_cmd,
    purge_cmd,
    reprocess_cmd,
    review_cmd,
    run_cmd,
    show_cmd,
    skipped_cmd,
    stats_cmd,
    template_cmd,
)
from pec_ingest.commands.italian import install as italian_argparse
from pec_ingest.desk.errors import UsageError
from pec_ingest.errors import ConfigError, PecIngestError
from store.errors import StoreError

EX_CONFIG = 78
COMMANDS = (demo_cmd, ingest_cmd, adherents_cmd, show_cmd, stats_cmd, inspect_cmd, parse_cmd,
            db_cmd, run_cmd, check_config_cmd, acks_cmd, poll_cmd, review_cmd, reprocess_cmd,
            attendance_cmd, purge_cmd, template_cmd, desk_cmd, skipped_cmd)


def build_parser() -> argparse.ArgumentParser:
    italian_argparse()
    parser = argparse.ArgumentParser(
        prog="pec-ingest",
        description="Raccolta delle adesioni (Allegato 1) arrivate via PEC.",
    )
    parser.add_argument("--version", action="version", version=f"pec-ingest {__version__}",
                        help="mostra la versione ed esce")
    parser.add_argument("--config", metavar="PATH",
                        help="file di configurazione TOML (default: $PEC_INGEST_CONFIG, "
                             "poi i valori predefiniti)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log di debug")
    sub = parser.add_subparsers(dest="command", metavar="COMANDO", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
             logging.CRITICAL: 2}


class _JournalFormatter(logging.Formatter):
    """``<priority>`` prefixes that journald turns into log levels (SyslogLevelPrefix)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in text.splitlines())


def setup_logging(verbose: bool) -> None:
    """Readable lines on stderr; under systemd (JOURNAL_STREAM) with journal priorities.

    ``-v`` shows this program's debug lines only: the libraries' own debug output (SQL with
    its parameters and rows, the IMAP protocol with the headers) carries personal data and
    stays at WARNING at every level (README, "What is stored, and where")."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                               "%Y-%m-%d %H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("apscheduler", "imapclient", "sqlalchemy", "alembic", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # pdfminer warns about every oddity of a damaged PDF; the parser reports what matters
    logging.getLogger("pdfminer").setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"pec-ingest: configurazione non valida:\n{exc}", file=sys.stderr)
        return EX_CONFIG
    except UsageError as exc:
        print(f"pec-ingest: {exc}", file=sys.stderr)
        return 2
    except (PecIngestError, StoreError) as exc:
        print(f"pec-ingest: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("\npec-ingest: interrotto (Ctrl-C); quanto già registrato resta registrato",
              file=sys.stderr)
        return 130
