"""Where an export goes: the format follows the ``--output`` extension, files are private.

Exports hold personal data: they are written with mode 0600 whatever the umask (created that
way, and the mode set again on an existing file). A folder that does not exist or cannot be
written is reported in Italian (exit 2), never as a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pec_ingest.desk.errors import UsageError
from pec_ingest.sheets import printable

EXPORT_MODE = 0o600
EXTENSIONS = {".xlsx": "xlsx", ".csv": "csv", ".json": "json", ".pdf": "pdf", ".txt": "table"}
NEEDS_FILE = frozenset({"xlsx", "pdf"})


def choose_format(fmt: str | None, output: Path | None, allowed: Sequence[str]) -> str:
    """``--format`` if given (it must match the output extension), else the extension's."""
    implied = EXTENSIONS.get(output.suffix.lower()) if output is not None else None
    if output is not None and implied is None and fmt is None:
        known = ", ".join(e for e, f in EXTENSIONS.items() if f in allowed)
        raise UsageError(f"estensione di {output.name!r} non riconosciuta: usare {known} "
                         "oppure indicare --format")
    if fmt is not None and implied is not None and fmt != implied:
        raise UsageError(f"il formato {fmt} non corrisponde all'estensione di {output} "
                         f"(che indica {implied}): correggere --format o il nome del file")
    chosen = fmt or implied or "table"
    if chosen not in allowed:
        raise UsageError(f"formato {chosen} non disponibile qui (ammessi: {', '.join(allowed)})")
    if chosen in NEEDS_FILE and output is None:
        raise UsageError(f"il formato {chosen} richiede --output FILE")
    return chosen


def write_private(path: Path, data: bytes) -> None:
    """``data`` into ``path`` with mode 0600; a problem is a :class:`UsageError`."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, EXPORT_MODE)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), EXPORT_MODE)
            out.write(data)
    except FileNotFoundError as exc:
        raise UsageError(f"impossibile scrivere {path}: la cartella {path.parent} "
                         "non esiste") from exc
    except IsADirectoryError as exc:
        raise UsageError(f"impossibile scrivere {path}: è una cartella") from exc
    except OSError as exc:
        raise UsageError(f"impossibile scrivere {path}: {exc.strerror or exc}") from exc


def emit(text: str, output: Path | None, done: str) -> None:
    """``text`` to ``output`` (UTF-8, private) or to the terminal; ``done`` said on stderr."""
    if output is None:
        sys.stdout.write(text.removeprefix("\ufeff"))
        sys.stdout.write("" if text.endswith("\n") else "\n")
        return
    write_private(output, (text if text.endswith("\n") else text + "\n").encode("utf-8"))
    print(done, file=sys.stderr)


def say(lines: Sequence[str]) -> None:
    """Lines for the terminal, control characters (ESC, OSC 52, bidi overrides) escaped."""
    print("\n".join(printable(line) for line in lines))
