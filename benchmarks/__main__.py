"""``python -m benchmarks``: the entry point ``make bench`` runs."""

from benchmarks.run import main

raise SystemExit(main())
