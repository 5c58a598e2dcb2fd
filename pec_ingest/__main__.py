"""``python -m pec_ingest`` is the same as the ``pec-ingest`` command."""

from pec_ingest.entry import main

raise SystemExit(main())
