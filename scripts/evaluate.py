#!/usr/bin/env python3
"""Run ``musicgen evaluate`` from a checkout: ``python scripts/evaluate.py --help``."""

import sys

from musicgen.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["evaluate", *sys.argv[1:]]))
