"""``musicgen bench prepare``: cold prepare speed (notes/s) and cache reload time.

Every figure is measured in the same run: a cold parallel prepare into a fresh temp
dir, a single-process sequential prepare (the baseline), pretty_midi parsing alone (the
floor that parsing sets), the reuse check on an unchanged folder (what ``open_data``
costs on every run) and ``load_cache`` of the prepared cache. CPU seconds of the
in-process runs are reported too: on a loaded machine they estimate idle wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

from musicgen.paths import BACH_MIDI_DIR


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add this benchmark's options."""
    parser.add_argument("--data", default=str(BACH_MIDI_DIR), help="music folder (default: the bundled Bach chorales)")
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: CPU count)")
    parser.add_argument("--repeats", type=int, default=3, help="cold prepares to take the median of (default 3)")


def run(args: argparse.Namespace) -> dict:
    """Measure and return the figures (seconds, notes per second, ratios)."""
    import statistics

    from musicgen.bench import time_calls
    from musicgen.data.cache import load_cache
    from musicgen.data.prepare import available_cpus, prepare, scan_music_files

    folder = Path(args.data)
    workers = args.workers or available_cpus()
    repeats = max(1, args.repeats)
    with tempfile.TemporaryDirectory(prefix="musicgen-bench-") as scratch:
        scratch = Path(scratch)

        def cold(workers_used: int, name: str) -> tuple[float, object]:
            cache_dir = scratch / name
            start = time.perf_counter()
            cache = prepare(folder, cache_dir, workers=workers_used, progress=False, force=True)
            return time.perf_counter() - start, cache

        _progress(f"cold prepare of {folder} with {workers} workers x{repeats}")
        parallel = [cold(workers, f"parallel{index}") for index in range(repeats)]
        cache = parallel[-1][1]
        parallel_seconds = statistics.median(seconds for seconds, _ in parallel)
        _progress("sequential prepare (1 process)")
        cpu_start = time.process_time()
        sequential_seconds = cold(1, "sequential")[0]
        sequential_cpu = time.process_time() - cpu_start
        _progress("pretty_midi parse alone")
        paths = [folder / relative for relative in scan_music_files(folder)]
        cpu_start = time.process_time()
        parse_seconds = _parse_all(paths)
        parse_cpu = time.process_time() - cpu_start
        _progress("reuse check and cache reload")
        reuse = time_calls(lambda: prepare(folder, cache.directory, progress=False), repeats=5)
        reload = time_calls(lambda: load_cache(cache.directory).streams("all"), repeats=5)

    notes = sum(entry["notes"] for entry in cache.pieces)
    return {
        "data": str(folder),
        "files": len(cache.manifest["files"]),
        "files_skipped": len(cache.manifest["skipped"]),
        "notes": notes,
        "tokens": int(len(cache.tokens)),
        "workers": workers,
        "cpu_count": os.cpu_count(),
        "cold_prepare_seconds": round(parallel_seconds, 3),
        "first_cold_prepare_seconds": round(parallel[0][0], 3),
        "cold_prepare_notes_per_second": round(notes / parallel_seconds),
        "sequential_prepare_seconds": round(sequential_seconds, 3),
        "sequential_notes_per_second": round(notes / sequential_seconds),
        "parallel_speedup": round(sequential_seconds / parallel_seconds, 2),
        "sequential_prepare_cpu_seconds": round(sequential_cpu, 3),
        "pretty_midi_parse_seconds": round(parse_seconds, 3),
        "pretty_midi_parse_cpu_seconds": round(parse_cpu, 3),
        "parse_share_of_sequential_cpu": round(parse_cpu / sequential_cpu, 2),
        "reuse_check_seconds": round(reuse.median, 4),
        "cache_reload_seconds": round(reload.median, 4),
    }


def _parse_all(paths: list[Path]) -> float:
    import pretty_midi

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path in paths:
            try:
                pretty_midi.PrettyMIDI(str(path))
            except Exception:  # noqa: BLE001, S112 - unreadable files count as parse time too
                continue
    return time.perf_counter() - start


def _progress(message: str) -> None:
    print(f"bench prepare: {message} ...", file=sys.stderr, flush=True)
