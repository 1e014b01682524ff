"""Progress bars of the sentiment demo's long work, on stderr (tqdm), quiet when not wanted."""

from __future__ import annotations

import sys

from tqdm import tqdm

REFRESH_SECONDS = 1.0  # at most one redraw a second keeps logs of long runs short


def progress_bar(total: int, description: str, enabled: bool, unit: str = "batch", leave: bool = True) -> tqdm:
    """A bar of ``total`` steps; disabled (no output at all) unless ``enabled``."""
    return tqdm(total=total, desc=description, unit=unit, file=sys.stderr, disable=not enabled, leave=leave,
                mininterval=REFRESH_SECONDS)


def report(line: str, enabled: bool) -> None:
    """Print a line on stderr without breaking a running bar."""
    if enabled:
        tqdm.write(line, file=sys.stderr)
