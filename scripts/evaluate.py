#!/usr/bin/env python3
"""Run ``musicgen evaluate`` from a checkout: ``python scripts/evaluate.py --help``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from musicgen.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(["evaluate", *sys.argv[1:]]))
