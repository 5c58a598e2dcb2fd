"""The ``pec-ingest`` program: Ctrl-C at any moment, even while the modules are still loading,
ends it with a short message and exit code 130, never a traceback."""

from __future__ import annotations

import sys


def main() -> int:
    try:
        from pec_ingest.cli import main as run

        return run()
    except KeyboardInterrupt:
        print("\npec-ingest: interrotto (Ctrl-C); quanto già registrato resta registrato",
              file=sys.stderr)
        return 130
