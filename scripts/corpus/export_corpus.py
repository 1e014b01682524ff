"""Export music21's corpus to standard MIDI files: the Bach chorales, or every collection.

The exported files are committed, so nobody has to wait for this. Run it again only to
rebuild the bundled data sets::

    python scripts/corpus/export_corpus.py            # the chorales: data/midi/bach/ (~2 minutes)
    python scripts/corpus/export_corpus.py --limit 5  # a quick smoke run
    python scripts/corpus/export_corpus.py --list     # the collections and what is left out
    nice -n 10 python scripts/corpus/export_corpus.py --all --jobs 2   # every bundled collection (~50 min)
    python scripts/corpus/export_corpus.py --collection palestrina      # one collection
    python scripts/corpus/export_corpus.py --collection oneills1850 --out /tmp/folk80 --sample 80

**Chorales** (the default). Source: ``music21.corpus.chorales.Iterator()``
(Riemenschneider's 371 chorales). That numbering lists 21 chorales twice (the same corpus
file under two numbers), so the export keeps each corpus file once: 350 files.
``corpus.search('bach')`` is not used because it mixes in Roman-numeral analyses
(``.rntxt``) and duplicate encodings. Files are named by the corpus file's BWV id
(``bach/bwv153.1`` -> ``bwv153.1.mid``), which is stable across music21 versions. Pieces
that fail to export are skipped and listed in ``export.json``; repeat signs music21 cannot
expand (bwv277) are played through once instead.

**Collections** (``--all``, ``--collection``). One folder per corpus folder,
``data/midi/<collection>/``, read through :func:`musicgen.music.scores.read_score_pieces`, so
every tune of a multi-tune ABC file becomes its own file (``essenFolksong/erk5.abc`` tune
``X:12`` -> ``essenFolksong/erk5-12.mid``). Bach's other works go to ``bach-other/``
(``data/midi/bach/`` stays the chorales); see :mod:`corpus_collections` for what is left out
and why. Source files are exported in parallel; a rerun skips every source whose bytes,
music21 version and outputs are unchanged. Each collection's record in ``export.json``
(under ``"collections"``) lists the exported files with their notes and seconds, the
failures with reasons, and the music21 version.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import corpus_collections

from musicgen import fileio
from musicgen.errors import ConfigError
from musicgen.paths import BACH_MIDI_DIR

RECORD_NAME = "export.json"
EXPORTER_VERSION = 4  # bump when a change to the reading or writing should re-export everything
SAVE_EVERY_SECONDS = 60.0


def corpus_names() -> list[str]:
    """Unique corpus names of the chorales, in Riemenschneider order (first occurrence)."""
    from music21 import corpus

    names = corpus.chorales.Iterator(returnType="filename")
    return list(dict.fromkeys(str(name) for name in names))


def file_name(corpus_name: str) -> str:
    """``'bach/bwv153.1'`` -> ``'bwv153.1.mid'``."""
    return corpus_name.rsplit("/", 1)[-1] + ".mid"


def export_one(corpus_name: str, out_dir: Path) -> Path:
    """Parse one chorale with music21 and write it as MIDI (atomically)."""
    from music21 import corpus, repeat

    score = corpus.parse(corpus_name)
    target = out_dir / file_name(corpus_name)
    with fileio.atomic_path(target) as temporary:
        try:
            score.write("midi", fp=str(temporary))
        except repeat.ExpanderException:
            # A few chorales have repeat signs music21 cannot expand (bwv277): play them
            # through once, as written, rather than lose the piece.
            remove_repeats(score)
            score.write("midi", fp=str(temporary))
    return target


def remove_repeats(score) -> int:
    """Replace every repeat barline of ``score`` by a plain one; return how many."""
    from music21 import bar

    count = 0
    for measure in score.recurse().getElementsByClass("Measure"):
        for side in ("leftBarline", "rightBarline"):
            if isinstance(getattr(measure, side), bar.Repeat):
                setattr(measure, side, bar.Barline("regular"))
                count += 1
    return count


def export_chorales(out: Path, limit: int) -> int:
    """The original export: the chorales to ``out``, their record at the top of export.json."""
    from tqdm import tqdm

    names = corpus_names()
    if limit:
        names = names[:limit]
    out.mkdir(parents=True, exist_ok=True)
    exported, failed = [], {}
    for name in tqdm(names, desc="exporting chorales", unit="piece", file=sys.stderr):
        try:
            exported.append(export_one(name, out).name)
        except Exception as error:  # noqa: BLE001 - any music21 failure skips the piece
            failed[name] = f"{type(error).__name__}: {error}"
            print(f"skipped {name}: {failed[name]}", file=sys.stderr)
    import music21

    record_path = out.parent / RECORD_NAME
    record = {
        "source": "music21.corpus.chorales.Iterator()",
        "music21_version": music21.__version__,
        "exported": sorted(exported),
        "failed": failed,
    }
    collections = _read_record(record_path).get("collections")
    if collections:  # the other collections' records live beside the chorales'
        record["collections"] = collections
    fileio.atomic_write_json(record_path, record)
    print(f"exported {len(exported)} pieces to {out}, {len(failed)} failed", file=sys.stderr)
    return 0


def export_collections(names: list[str], out: Path | None, limit: int, sample: int, jobs: int, root: Path) -> int:
    """Export the named collections, each to ``out`` or ``<root>/<name>/``, incrementally."""
    import music21
    from tqdm import tqdm

    plans = []
    for name in names:
        folder = out if out is not None else root / name
        plan = corpus_collections.plan_collection(name, folder)
        if limit:
            plan.sources = plan.sources[:limit]
        plans.append(plan)
    guard = corpus_collections.held_out_titles()
    records: dict[Path, dict] = {}
    tasks, previous = [], {}
    for plan in plans:
        outdated: dict = {}  # sources recorded by another music21 or exporter version
        record = _collection_record(records, plan, music21.__version__, outdated)
        for source in plan.sources:
            old = record["sources"].get(source.name)
            if not sample and corpus_collections.is_current(old, source, plan.folder):
                continue
            previous[(plan.name, source.name)] = old or outdated.get(source.name)
            titles = frozenset() if plan.name in corpus_collections.HELD_OUT else guard
            tasks.append(corpus_collections.Task(plan.name, source, str(plan.folder), not sample, titles))
    print(f"{sum(len(plan.sources) for plan in plans)} source files, {len(tasks)} to export", file=sys.stderr)
    started = last_save = time.monotonic()
    results = []
    with tqdm(total=len(tasks), desc="exporting", unit="file", file=sys.stderr, smoothing=0.05) as bar:
        for result in corpus_collections.run_tasks(tasks, jobs):
            results.append(result)
            plan = next(plan for plan in plans if plan.name == result.collection)
            if result.write:
                corpus_collections.remove_stale(previous.get((plan.name, result.source)), result, plan.folder)
                _collection_record(records, plan, music21.__version__)["sources"][result.source] = result.entry()
            for key, reason in result.failed.items():
                tqdm.write(f"skipped {plan.name}/{result.source}#{key}: {reason}", file=sys.stderr)
            bar.update(1)
            bar.set_postfix(pieces=sum(len(item.pieces) for item in results), refresh=False)
            if time.monotonic() - last_save > SAVE_EVERY_SECONDS:
                _save_records(records, plans)
                last_save = time.monotonic()
    if sample:
        for plan in plans:
            chosen = [item for item in results if item.collection == plan.name]
            corpus_collections.write_sample(chosen, plan, sample, _collection_record(records, plan, music21.__version__))
    _save_records(records, plans)
    for plan in plans:
        summary = _collection_record(records, plan, music21.__version__)
        print(
            f"{plan.name}: {len(summary['exported'])} pieces in {plan.folder}, "
            f"{len(summary['failed'])} failed",
            file=sys.stderr,
        )
    print(f"done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return 0


def _collection_record(records: dict[Path, dict], plan, version: str, outdated: dict | None = None) -> dict:
    """The collection's record in its export.json; cleared (into ``outdated``) on a version change."""
    path = plan.folder.parent / RECORD_NAME
    if path not in records:
        records[path] = _read_record(path)
    collections = records[path].setdefault("collections", {})
    record = collections.setdefault(plan.name, {"sources": {}})
    if record.get("music21_version") != version or record.get("exporter_version") != EXPORTER_VERSION:
        if outdated is not None:
            outdated.update(record.get("sources", {}))  # their files are replaced or removed
        record["sources"] = {}  # another music21 or exporter reads differently: export everything again
    record["music21_version"] = version
    record["exporter_version"] = EXPORTER_VERSION
    record["source"] = plan.description
    record["left_out"] = plan.left_out
    record.setdefault("sources", {})
    return record


def _save_records(records: dict[Path, dict], plans) -> None:
    for plan in plans:
        record = records[plan.folder.parent / RECORD_NAME]["collections"][plan.name]
        corpus_collections.summarise(record, plan)
    for path, record in records.items():
        fileio.atomic_write_json(path, record)


def _read_record(path: Path) -> dict:
    return fileio.read_json(path) if path.exists() else {}


def main(argv: list[str] | None = None) -> int:
    """Command line: the chorales by default, or ``--all`` / ``--collection NAME``."""
    parser = argparse.ArgumentParser(
        description="Export music21's corpus to MIDI files (the bundled data sets).",
        epilog="example: python scripts/corpus/export_corpus.py --collection oneills1850 --out /tmp/folk80 --sample 80",
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: data/midi/<collection>)")
    parser.add_argument("--limit", type=int, default=0, help="export only the first N source files (0: all)")
    parser.add_argument("--collection", action="append", default=[], help="a corpus collection (repeatable)")
    parser.add_argument("--all", action="store_true", help="every bundled collection (all but the chorales and held-out ones)")
    parser.add_argument("--sample", type=int, default=0, help="write N pieces spread evenly over the collection")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes")
    parser.add_argument("--list", action="store_true", help="list the collections and exit")
    parser.add_argument("--root", type=Path, default=None, help="folder of the collection folders (default: data/midi)")
    args = parser.parse_args(argv)
    try:
        if args.list:
            print(corpus_collections.describe_collections())
            return 0
        if not args.all and not args.collection:
            if args.sample:
                raise ConfigError("--sample needs --collection")
            return export_chorales(args.out or BACH_MIDI_DIR, args.limit)
        names = corpus_collections.check_names(args.collection, args.all, args.out, args.root, args.sample)
        root = args.root or corpus_collections.BUNDLED_DIR
        return export_collections(names, args.out, args.limit, args.sample, max(1, args.jobs), root)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
