"""``python -m bindings``: Hearth's command line."""

from bindings.cli import main

raise SystemExit(main())
