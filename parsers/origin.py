"""Who raised an exception: a library failing on bad input, or a bug of ours. Pure.

The readers catch what a library raises for a malformed file only where the library raises it:
the same ``IndexError`` or ``TypeError`` raised by our own code is a bug, and must reach the
per-message guard (logged with its traceback, counted), never be reported as a damaged file.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import TracebackType


def raised_by_library(exc: BaseException, packages: Sequence[str]) -> bool:
    """True when ``exc`` was raised inside one of the named top-level ``packages`` (not in
    this package, not in the standard library called from here)."""
    tb: TracebackType | None = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    module = last.tb_frame.f_globals.get("__name__", "")
    if not isinstance(module, str):
        return False
    root = module.split(".", 1)[0]
    if root in packages:
        return True
    return root in sys.stdlib_module_names and _called_from(last, packages)


def _called_from(tb: TracebackType, packages: Sequence[str]) -> bool:
    """A standard-library frame (``zlib``-like helpers, ``struct``) whose caller is the library."""
    frame = tb.tb_frame.f_back
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        root = module.split(".", 1)[0] if isinstance(module, str) else ""
        if root in sys.stdlib_module_names:
            frame = frame.f_back
            continue
        return root in packages
    return False


def raised_within(exc: BaseException, packages: Sequence[str]) -> bool:
    """True when ``exc`` came out of a call into one of ``packages`` (a frame of theirs lies
    between where it was caught and where it was raised, standard library or not)."""
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
    while tb is not None:
        module = tb.tb_frame.f_globals.get("__name__", "")
        if isinstance(module, str) and module.split(".", 1)[0] in packages:
            return True
        tb = tb.tb_next
    return False
