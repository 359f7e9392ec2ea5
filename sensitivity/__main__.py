"""``python -m sensitivity``: the command line."""

from .cli import main

raise SystemExit(main())
