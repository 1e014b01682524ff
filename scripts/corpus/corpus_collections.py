"""The collections of music21's corpus that ``export_corpus.py`` exports, and the export itself.

A collection is a top-level folder of music21's corpus, exported to
``data/midi/<collection>/``. Left out, with the reason recorded in ``export.json``:

* ``oneills1850`` from the bundled export: O'Neill's 1850 tunes are the held-out folk
  collection on which fine-tuning is measured (export them elsewhere with ``--out``);
* ``demos`` and ``theoryExercises`` (demonstrations and exercises, not repertoire);
* files music21 cannot read as scores or that are not music (``.rntxt`` Roman-numeral
  analyses, Finale ``.mus``/``.musx``, text and images);
* a second encoding of the same piece (``movement1.krn`` beside ``movement1.mxl``: the
  MusicXML is kept);
* the Bach chorales, which are ``data/midi/bach/`` (the chorale export); Bach's other
  files go to ``bach-other/``, less any whose notes match a bundled chorale (the same
  harmonisation under another BWV number or with a variant suffix);
* Essen's ``test*.abc`` (music21's test files, tunes repeated from the other files);
* any tune whose title matches an O'Neill tune's (after dropping "reel", "jig", articles
  and punctuation): Ryan's Mammoth Collection and Aird's Airs share many tunes with
  O'Neill's, and the held-out tunes must not be in the base model's data.

Collections and files whose licence does not allow us to redistribute derived files
(:data:`RESTRICTED`) are not bundled (``--all`` skips them) but can be exported locally
with ``--collection NAME``; ``data/midi/.gitignore`` keeps such exports out of git.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import multiprocessing
import re
from collections.abc import Iterator
from pathlib import Path

from musicgen.errors import ConfigError, MidiError
from musicgen.music.scores import SCORE_SUFFIXES, read_score_pieces
from musicgen.music.smf import read_smf
from musicgen.paths import BACH_MIDI_DIR, DATA_DIR

BUNDLED_DIR = DATA_DIR / "midi"
HELD_OUT = {"oneills1850": "held out: the folk collection on which fine-tuning is measured"}
LEFT_OUT_FOLDERS = {
    "demos": "music21's demonstration files",
    "theoryExercises": "theory exercises",
}
SKIPPED_FOLDERS = {"_metadataCache", "__pycache__"}
RESTRICTED = {
    "palestrina": "licence: 'Rights to all derivative electronic formats reserved' (John Miller 2000, in every file)",
    "essenFolksong": "licence: permission for non-commercial distribution in music21 (essenFolksong/license.txt)",
    "josquin": "licence: GPL-2 encodings (Laura Conrad 1999); also each voice is a separate ABC tune",
}
RESTRICTED_FILES = {
    "leadSheet/berlinAlexandersRagtime.mxl": "licence: the encoding says 'All Rights Reserved'",
    "monteverdi/madrigal.5.4.mxl": "licence: edition rights (Ut Orpheus Edizioni 2003)",
    "monteverdi/madrigal.5.5.mxl": "licence: edition rights (Ut Orpheus Edizioni 2003)",
}
HELD_OUT_TITLE_WORDS = re.compile(
    r"\b(the|a|an|reel|jig|hornpipe|strathspey|air|set dance|quickstep|march|polka|waltz|slide|slip|double|single|no\.? ?\d+|s\. ?\d+)\b"
)
SUFFIX_REASONS = {
    ".rntxt": "a Roman-numeral analysis, not a score",
    ".mus": "a Finale file music21 cannot read",
    ".musx": "a Finale file music21 cannot read",
}
LEFT_OUT_FILES = {
    re.compile(r"essenFolksong/test\w*\.abc"): "music21's test file: tunes repeated from the other Essen files",
}
SUFFIX_PREFERENCE = (".mxl", ".musicxml", ".xml", ".krn", ".abc")  # which encoding of a piece to keep
BACH_OTHER = "bach-other"
DUPLICATE_SHARE = 0.9  # a Bach piece sharing this share of its notes with a chorale is a duplicate


@dataclasses.dataclass(frozen=True)
class Source:
    """A corpus file to export: its corpus-relative name, path and content hash."""

    name: str
    path: Path
    sha256: str


@dataclasses.dataclass
class Plan:
    """What one collection exports, where, and what it leaves out."""

    name: str
    folder: Path
    sources: list[Source]
    description: str
    left_out: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Task:
    """One source file for a worker; ``write=False`` returns the MIDI instead of writing it."""

    collection: str
    source: Source
    folder: str
    write: bool = True
    held_out_titles: frozenset = frozenset()  # leave out pieces with these normalised titles


@dataclasses.dataclass
class Result:
    """A worker's answer: the pieces written (name -> notes, seconds) and the failures."""

    collection: str
    source: str
    sha256: str
    write: bool
    pieces: dict[str, tuple[int, float]] = dataclasses.field(default_factory=dict)
    failed: dict[str, str] = dataclasses.field(default_factory=dict)
    duplicate_of: str = ""
    held_out_matches: dict[str, str] = dataclasses.field(default_factory=dict)  # key -> title
    midi: dict[str, bytes] = dataclasses.field(default_factory=dict)

    def entry(self) -> dict:
        """The source's record in export.json."""
        entry: dict = {"sha256": self.sha256, "pieces": {name: list(value) for name, value in self.pieces.items()}}
        if self.failed:
            entry["failed"] = self.failed
        if self.duplicate_of:
            entry["duplicate_of"] = self.duplicate_of
        if self.held_out_matches:
            entry["held_out_title_matches"] = self.held_out_matches
        return entry


def corpus_dir() -> Path:
    """The folder of music21's corpus."""
    from music21 import corpus

    return Path(corpus.__file__).resolve().parent


def collection_names(include_held_out: bool = False) -> list[str]:
    """The corpus's collections, sorted, Bach's as ``bach-other``; only the bundled ones unless asked."""
    names = []
    for folder in sorted(corpus_dir().iterdir(), key=lambda item: item.name.lower()):
        if not folder.is_dir() or folder.name in SKIPPED_FOLDERS or folder.name in LEFT_OUT_FOLDERS:
            continue
        if (folder.name in HELD_OUT or folder.name in RESTRICTED) and not include_held_out:
            continue
        names.append(BACH_OTHER if folder.name == "bach" else folder.name)
    return names


def check_names(names: list[str], everything: bool, out: Path | None, root: Path | None, sample: int) -> list[str]:
    """The collections a command line asks for; ConfigError for unknown or misplaced ones."""
    known = collection_names(include_held_out=True)
    chosen = list(dict.fromkeys((collection_names() if everything else []) + names))
    for name in chosen:
        if name == "bach":
            raise ConfigError("the chorales are the default export (no --collection); Bach's other works are 'bach-other'")
        if name not in known:
            raise ConfigError(f"unknown collection {name!r}; known: {', '.join(known)}")
        target = out or (root / name if root is not None else None)
        if name in HELD_OUT and (target is None or _inside(target, BUNDLED_DIR)):
            raise ConfigError(f"{name} is {HELD_OUT[name]}; export it outside data/midi with --out DIR")
    if out is not None and len(chosen) > 1:
        raise ConfigError("--out takes one collection")
    if sample < 0:
        raise ConfigError("--sample must be positive")
    return chosen


def plan_collection(name: str, folder: Path) -> Plan:
    """The source files of a collection, in sorted order, and those left out with reasons."""
    root = corpus_dir()
    corpus_folder = "bach" if name == BACH_OTHER else name
    chorales = _chorale_stems() if name == BACH_OTHER else set()
    candidates: dict[str, list[Path]] = {}
    left_out: dict[str, str] = {}
    for path in sorted((root / corpus_folder).rglob("*")):
        if not path.is_file() or any(part in SKIPPED_FOLDERS for part in path.parts):
            continue
        relative = path.relative_to(root).as_posix()
        suffix = path.suffix.lower()
        stem = relative[: -len(path.suffix)] if path.suffix else relative
        reason = _left_out_reason(relative, suffix, stem, chorales)
        if reason:
            left_out[relative] = reason
            continue
        candidates.setdefault(stem, []).append(path)
    sources = []
    for stem in sorted(candidates):
        paths = sorted(candidates[stem], key=lambda item: SUFFIX_PREFERENCE.index(item.suffix.lower()))
        for other in paths[1:]:
            left_out[other.relative_to(root).as_posix()] = f"another encoding of {paths[0].relative_to(root).as_posix()}"
        chosen = paths[0]
        digest = hashlib.sha256(chosen.read_bytes()).hexdigest()
        sources.append(Source(chosen.relative_to(root).as_posix(), chosen, digest))
    description = f"music21 corpus folder {corpus_folder}/" + (" less the chorales" if chorales else "")
    return Plan(name, folder, sources, description, left_out)


def describe_collections() -> str:
    """A table of the collections (source files, left out) for ``--list``."""
    lines = []
    for name in collection_names(include_held_out=True):
        plan = plan_collection(name, BUNDLED_DIR / name)
        held = f"  ({HELD_OUT.get(name) or RESTRICTED[name]}; not bundled)" if name in HELD_OUT or name in RESTRICTED else ""
        lines.append(f"{name:20s} {len(plan.sources):5d} files, {len(plan.left_out):4d} left out{held}")
    for name, reason in LEFT_OUT_FOLDERS.items():
        lines.append(f"{name:20s}   left out: {reason}")
    return "\n".join(lines)


def piece_name(source_name: str, key: str) -> str:
    """``'essenFolksong/erk5.abc'``, ``'12'`` -> ``'erk5-12.mid'``; subfolders kept, odd characters -> _."""
    inner = source_name.split("/", 1)[1]
    stem = inner.rsplit(".", 1)[0]
    stem = "/".join(re.sub(r"[^A-Za-z0-9._-]+", "_", part) for part in stem.split("/"))
    if key:
        stem += "-" + re.sub(r"[^A-Za-z0-9._-]+", "_", key)
    return stem + ".mid"


def is_current(entry: dict | None, source: Source, folder: Path) -> bool:
    """Whether a recorded export of ``source`` is still valid: same bytes, every file there."""
    if not entry or entry.get("sha256") != source.sha256:
        return False
    return all((folder / name).is_file() for name in entry.get("pieces", {}))


def run_tasks(tasks: list[Task], jobs: int) -> Iterator[Result]:
    """Export the tasks in ``jobs`` processes, biggest files first; results as they finish."""
    ordered = sorted(tasks, key=lambda task: -task.source.path.stat().st_size)
    if jobs == 1 or len(ordered) <= 1:
        yield from map(export_task, ordered)
        return
    with multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=50) as pool:
        yield from pool.imap_unordered(export_task, ordered, chunksize=1)


def export_task(task: Task) -> Result:
    """Read one source file and write (or return) a MIDI file per piece."""
    from musicgen import fileio

    result = Result(task.collection, task.source.name, task.source.sha256, task.write)
    try:
        pieces = read_score_pieces(task.source.path)
    except MidiError as error:
        result.failed[""] = str(error).split(": ", 1)[-1]
        return result
    for piece in pieces:
        if piece.midi is None:
            result.failed[piece.key] = piece.error or "unknown error"
            continue
        name = piece_name(task.source.name, piece.key)
        if task.held_out_titles and normalised_title(piece.title) in task.held_out_titles:
            result.held_out_matches[piece.key or "-"] = piece.title
            continue
        try:  # an export musicgen's own reader refuses (a six-hour tune) is broken, not music
            read_smf(piece.midi, name)
        except MidiError as error:
            result.failed[piece.key] = str(error).split(": ", 1)[-1]
            continue
        if task.collection == BACH_OTHER:
            result.duplicate_of = _matching_chorale(piece.midi)
            if result.duplicate_of:
                return result
        result.pieces[name] = midi_summary(piece.midi)
        if task.write:
            fileio.atomic_write_bytes(Path(task.folder) / name, piece.midi)
        else:
            result.midi[name] = piece.midi
    return result


def normalised_title(title: str) -> str:
    """A tune title reduced for matching: lower case, no tune type, article, number or punctuation."""
    title = title.lower().split("--", 1)[0]
    return re.sub(r"[^a-z]", "", HELD_OUT_TITLE_WORDS.sub("", title))


def held_out_titles() -> frozenset:
    """The normalised titles of the held-out tunes (O'Neill's), read from the ABC text."""
    from musicgen.music.scores import decode_text, split_abc_tunes

    titles = set()
    for name in HELD_OUT:
        for path in sorted((corpus_dir() / name).glob("*.abc")):
            titles.update(normalised_title(tune.title) for tune in split_abc_tunes(decode_text(path.read_bytes())))
    titles.discard("")
    return frozenset(titles)


def midi_summary(data: bytes) -> tuple[int, float]:
    """Notes and seconds of a standard MIDI file."""
    import mido

    midi_file = mido.MidiFile(file=io.BytesIO(data))
    notes = sum(
        1 for track in midi_file.tracks for message in track if message.type == "note_on" and message.velocity > 0
    )
    return notes, round(midi_file.length, 2)


def remove_stale(entry: dict | None, result: Result, folder: Path) -> None:
    """Delete the files an earlier export of this source wrote that this one did not."""
    for name in (entry or {}).get("pieces", {}):
        if name not in result.pieces and (folder / name).is_file():
            (folder / name).unlink()


def write_sample(results: list[Result], plan: Plan, count: int, record: dict) -> None:
    """Write ``count`` pieces spread evenly over the collection (in file order) and record them."""
    from musicgen import fileio

    by_source = {result.source: result for result in results}
    pieces = [
        (source.name, name, by_source[source.name])
        for source in plan.sources
        if source.name in by_source
        for name in by_source[source.name].pieces
    ]
    count = min(count, len(pieces))
    chosen = [pieces[(2 * index + 1) * len(pieces) // (2 * count)] for index in range(count)]
    for entry in record.get("sources", {}).values():  # an earlier sample in the same folder
        for name in entry.get("pieces", {}):
            if (plan.folder / name).is_file():
                (plan.folder / name).unlink()
    record["sources"] = {}
    for source_name, name, result in chosen:
        fileio.atomic_write_bytes(plan.folder / name, result.midi[name])
        entry = record["sources"].setdefault(source_name, {"sha256": result.sha256, "pieces": {}})
        entry["pieces"][name] = list(result.pieces[name])
    record["sample"] = f"{count} of {len(pieces)} pieces, evenly spaced in file order"
    record["failed_in_collection"] = {
        f"{result.source}#{key}": reason for result in results for key, reason in result.failed.items()
    }


def summarise(record: dict, plan: Plan) -> None:
    """Fill a collection record's totals from its per-source entries (only current sources)."""
    current = {source.name for source in plan.sources}
    sources = {name: entry for name, entry in record.get("sources", {}).items() if name in current}
    exported = sorted(name for entry in sources.values() for name in entry.get("pieces", {}))
    values = [value for entry in sources.values() for value in entry.get("pieces", {}).values()]
    record["exported"] = exported
    record["failed"] = {
        f"{name}#{key}" if key else name: reason
        for name, entry in sources.items()
        for key, reason in entry.get("failed", {}).items()
    }
    record["duplicates_left_out"] = {
        name: entry["duplicate_of"] for name, entry in sources.items() if entry.get("duplicate_of")
    }
    record["held_out_title_matches_left_out"] = {
        f"{name}#{key}": title for name, entry in sources.items() for key, title in entry.get("held_out_title_matches", {}).items()
    }
    record["pieces"] = len(exported)
    record["notes"] = sum(value[0] for value in values)
    record["minutes"] = round(sum(value[1] for value in values) / 60.0, 1)


def _left_out_reason(relative: str, suffix: str, stem: str, chorales: set[str]) -> str:
    if suffix in SUFFIX_REASONS:
        return SUFFIX_REASONS[suffix]
    if suffix not in SCORE_SUFFIXES:
        return "not a score file"
    if stem in chorales:
        return "a chorale: exported to data/midi/bach/"
    if relative in RESTRICTED_FILES:
        return RESTRICTED_FILES[relative]
    for pattern, reason in LEFT_OUT_FILES.items():
        if pattern.fullmatch(relative):
            return reason
    return ""


def _chorale_stems() -> set[str]:
    from music21 import corpus

    return {str(name) for name in corpus.chorales.Iterator(returnType="filename")}


_CHORALE_FINGERPRINTS: dict[str, frozenset] = {}


def _matching_chorale(data: bytes) -> str:
    """The bundled chorale whose notes match this piece's (any transposition), or ""."""
    if not _CHORALE_FINGERPRINTS:
        if not BACH_MIDI_DIR.is_dir():
            raise ConfigError(f"{BACH_MIDI_DIR} is missing: export the chorales first")
        for path in sorted(BACH_MIDI_DIR.glob("*.mid")):
            _CHORALE_FINGERPRINTS[path.stem] = note_fingerprint(path.read_bytes())
    notes = note_fingerprint(data)
    for name, chorale in _CHORALE_FINGERPRINTS.items():
        if min(len(notes), len(chorale)) < DUPLICATE_SHARE * max(len(notes), len(chorale)):
            continue
        for shift in range(-6, 7):
            shared = sum(1 for onset, pitch in notes if (onset, pitch - shift) in chorale)
            if shared >= DUPLICATE_SHARE * max(len(notes), len(chorale)):
                return f"bach/{name}" + (f" (transposed {shift:+d})" if shift else "")
    return ""


def note_fingerprint(data: bytes) -> frozenset:
    """The (onset in sixteenths, pitch) pairs of a MIDI file's notes."""
    import mido

    midi_file = mido.MidiFile(file=io.BytesIO(data))
    pairs = set()
    for track in midi_file.tracks:
        ticks = 0
        for message in track:
            ticks += message.time
            if message.type == "note_on" and message.velocity > 0:
                pairs.add((round(4 * ticks / midi_file.ticks_per_beat), message.note))
    return frozenset(pairs)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True
