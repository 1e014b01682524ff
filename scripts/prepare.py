#!/usr/bin/env python3
"""Run ``musicgen prepare`` from a checkout: ``python scripts/prepare.py --help``."""

import sys

from musicgen.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["prepare", *sys.argv[1:]]))
