#!/usr/bin/env python3
"""Run ``musicgen generate`` from a checkout: ``python scripts/generate.py --help``."""

import sys

from musicgen.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["generate", *sys.argv[1:]]))
