"""Lay out the base model's training music as one folder of links, a folder per style.

    python scripts/corpus/assemble_base_corpus.py /work/corpus-base

A piece's STYLE is its top folder (see ``musicgen prepare``), so the layout names the styles:

- every collection of ``data/midi/`` (music21's corpus: ``bach``, ``airdsAirs``, ``haydn``, ...);
- ``pop909/`` (POP909's 905 songs: melody, bridge and piano, performed to the song's tempo);
- ``groove-<style>/`` (the Groove MIDI Dataset by its ``info.csv`` style: ``groove-funk``,
  ``groove-rock``, ...);
- ``nottingham-<kind>/`` (the Nottingham tunes with their chords, by their book: ``jigs``,
  ``reels``, ``hornpipes``, ``waltzes``, ...), less every tune whose title matches one of
  O'Neill's 1850 tunes, the held-out folk collection (their titles are read from music21's
  corpus). What was left out is listed in ``left_out.json`` beside the links;
- ``palestrina/``, ``essenFolksong/`` and ``josquin/``: music21's own score files of the
  collections ``data/midi/`` does not bundle (their licences allow no redistribution of
  derived files: see ``corpus_collections.RESTRICTED``), read as scores by ``musicgen prepare``;
- ``pop909/NNN/``: each song's folder, so that its ``chord_midi.txt``, ``beat_midi.txt`` and
  ``key_audio.txt`` are read beside it (chords, bars and keys: :mod:`musicgen.music.sidecars`);
- the band folders ``freedoom/``, ``simutrans/``, ``openmsx/`` and ``lakh-reggae/`` (bass guitar
  and drums), and ``openewld/`` (lead sheets with chord symbols), less the lead sheets the
  corpus's SOURCE.md names as possibly under copyright.

The corpora are those of ``../shared/data/corpora`` (``--corpora``); nothing is copied.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

from corpus_collections import held_out_titles, normalised_title

from musicgen.paths import DATA_DIR, REPO_ROOT

NOTTINGHAM_BOOKS = {"hpps": "hornpipes", "reelsa-c": "reels", "reelsd-g": "reels", "reelsh-l": "reels",
                    "reelsm-q": "reels", "reelsr-t": "reels", "reelsu-z": "reels"}


def link(target: Path, source: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        target.symlink_to(source.resolve())


def abc_titles(path: Path) -> dict[int, str]:
    """``X`` number -> title of each tune of an ABC file."""
    titles, number = {}, None
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("X:"):
            number = int(re.sub(r"\D", "", line) or 0)
        elif line.startswith("T:") and number is not None and number not in titles:
            titles[number] = line[2:].strip()
    return titles


def nottingham(corpora: Path, out: Path, left_out: dict) -> int:
    held_out = held_out_titles()
    count = 0
    for midi in sorted((corpora / "nottingham" / "MIDI").glob("*.mid")):
        book, number = re.fullmatch(r"(.+?)(\d+)\.mid", midi.name).groups()
        title = abc_titles(corpora / "nottingham" / "ABC_cleaned" / f"{book}.abc").get(int(number), "")
        if normalised_title(title) in held_out:
            left_out[f"nottingham/{midi.name}"] = f"title {title!r} matches an O'Neill tune (held out)"
            continue
        link(out / f"nottingham-{NOTTINGHAM_BOOKS.get(book, book)}" / midi.name, midi)
        count += 1
    return count


def groove(corpora: Path, out: Path) -> int:
    count = 0
    with open(corpora / "groove" / "info.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            style = row["style"].split("/")[0]
            source = corpora / "groove" / row["midi_filename"]
            link(out / f"groove-{style}" / row["midi_filename"].replace("/", "-"), source)
            count += 1
    return count


BAND_FOLDERS = ("freedoom", "simutrans", "openmsx", "lakh-reggae")
SCORE_COLLECTIONS = ("palestrina", "essenFolksong", "josquin")
SCORE_SUFFIXES = (".krn", ".abc", ".xml", ".mxl", ".musicxml")
# Lead sheets SOURCE.md names as possibly still under copyright (dates in the curator's database are wrong).
OPENEWLD_LEFT_OUT = ("I'm_Mandy_Fly_Me", "Tangerine")


def scores(out: Path, left_out: dict) -> dict[str, int]:
    """Links to music21's score files of the collections ``data/midi`` does not bundle."""
    from corpus_collections import LEFT_OUT_FILES, corpus_dir

    counts = {}
    for name in SCORE_COLLECTIONS:
        count = 0
        for path in sorted((corpus_dir() / name).rglob("*")):
            relative = f"{name}/{path.relative_to(corpus_dir() / name).as_posix()}"
            if path.suffix.lower() not in SCORE_SUFFIXES:
                continue
            reasons = [reason for pattern, reason in LEFT_OUT_FILES.items() if pattern.fullmatch(relative)]
            if reasons:
                left_out[relative] = reasons[0]
                continue
            link(out / name / path.relative_to(corpus_dir() / name), path)
            count += 1
        counts[name] = count
    return counts


def bands(corpora: Path, out: Path, left_out: dict) -> dict[str, int]:
    """Links to the band folders' MIDI files and OpenEWLD's lead sheets, a folder per corpus."""
    counts = {}
    for name in BAND_FOLDERS:
        files = sorted((corpora / name).rglob("*.mid"))
        for path in files:
            link(out / name / path.relative_to(corpora / name), path)
        counts[name] = len(files)
    count = 0
    for path in sorted((corpora / "openewld" / "dataset").rglob("*.mxl")):
        if any(title in str(path) for title in OPENEWLD_LEFT_OUT):
            left_out[f"openewld/{path.name}"] = "named in SOURCE.md as possibly under copyright"
            continue
        link(out / "openewld" / path.relative_to(corpora / "openewld" / "dataset"), path)
        count += 1
    counts["openewld"] = count
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="the folder to lay out (links only)")
    parser.add_argument("--corpora", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "corpora")
    args = parser.parse_args(argv)
    counts, left_out = {}, {}
    for collection in sorted(path for path in (DATA_DIR / "midi").iterdir() if path.is_dir()):
        for midi in collection.rglob("*.mid"):
            link(args.out / collection.name / midi.relative_to(collection), midi)
        counts[collection.name] = len(list(collection.rglob("*.mid")))
    for song in sorted((args.corpora / "pop909").glob("*/*.mid")):
        for part in song.parent.iterdir():  # the song and its annotation files, in a folder of their own
            link(args.out / "pop909" / song.parent.name / part.name, part)
    counts["pop909"] = len(list((args.corpora / "pop909").glob("*/*.mid")))
    counts.update(scores(args.out, left_out))
    counts.update(bands(args.corpora, args.out, left_out))
    counts["groove"] = groove(args.corpora, args.out)
    counts["nottingham"] = nottingham(args.corpora, args.out, left_out)
    (args.out / "left_out.json").write_text(json.dumps(left_out, indent=2, sort_keys=True) + "\n")
    print(json.dumps({"files": counts, "left_out": len(left_out)}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
