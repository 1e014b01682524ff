"""``musicgen bench prepare`` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse

from musicgen.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this benchmark's options."""


def run(args: argparse.Namespace) -> dict:
    raise ConfigError("musicgen bench prepare is not yet available in this version")
