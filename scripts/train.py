#!/usr/bin/env python3
"""Run ``musicgen train`` from a checkout: ``python scripts/train.py --help``."""

import sys

from musicgen.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["train", *sys.argv[1:]]))
