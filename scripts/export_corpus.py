"""Export music21's bundled Bach chorales to ``data/midi/bach/*.mid``.

The exported files are committed, so nobody has to wait for this (~2 minutes).
Run it again only to rebuild the bundled data set::

    python scripts/export_corpus.py            # writes data/midi/bach/ and data/midi/export.json
    python scripts/export_corpus.py --limit 5  # a quick smoke run

Source: ``music21.corpus.chorales.Iterator()`` (Riemenschneider's 371 chorales). That
numbering lists 21 chorales twice (the same corpus file under two numbers), so the export
keeps each corpus file once: 350 files. ``corpus.search('bach')`` is not used because it
mixes in Roman-numeral analyses (``.rntxt``) and duplicate encodings. Files are named by
the corpus file's BWV id (``bach/bwv153.1`` -> ``bwv153.1.mid``), which is stable across
music21 versions. Pieces that fail to export are skipped and listed in ``export.json``; repeat signs
music21 cannot expand (bwv277) are played through once instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from musicgen import fileio  # noqa: E402
from musicgen.paths import BACH_MIDI_DIR  # noqa: E402


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Export music21's Bach chorales to MIDI files (the bundled data set).",
        epilog="example: python scripts/export_corpus.py --out data/midi/bach",
    )
    parser.add_argument("--out", type=Path, default=BACH_MIDI_DIR, help="output folder")
    parser.add_argument("--limit", type=int, default=0, help="export only the first N (0: all)")
    args = parser.parse_args(argv)

    from tqdm import tqdm

    names = corpus_names()
    if args.limit:
        names = names[: args.limit]
    args.out.mkdir(parents=True, exist_ok=True)
    exported, failed = [], {}
    for name in tqdm(names, desc="exporting chorales", unit="piece", file=sys.stderr):
        try:
            exported.append(export_one(name, args.out).name)
        except Exception as error:  # noqa: BLE001 - any music21 failure skips the piece
            failed[name] = f"{type(error).__name__}: {error}"
            print(f"skipped {name}: {failed[name]}", file=sys.stderr)
    import music21

    fileio.atomic_write_json(
        args.out.parent / "export.json",
        {
            "source": "music21.corpus.chorales.Iterator()",
            "music21_version": music21.__version__,
            "exported": sorted(exported),
            "failed": failed,
        },
    )
    print(f"exported {len(exported)} pieces to {args.out}, {len(failed)} failed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
