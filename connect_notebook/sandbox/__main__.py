"""``python -m connect_notebook.sandbox``: serve the sandbox until Ctrl-C."""

from ._cli import main

raise SystemExit(main())
