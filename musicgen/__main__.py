"""``python -m musicgen`` runs the command line."""

from musicgen.cli import main

raise SystemExit(main())
