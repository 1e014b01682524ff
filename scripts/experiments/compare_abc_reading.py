"""How many tunes of ABC files come through music21 as is, and through ``musicgen.music.scores``.

    python scripts/experiments/compare_abc_reading.py essenFolksong/erk5.abc          # a corpus work
    python scripts/experiments/compare_abc_reading.py 'oneills1850/*.abc'             # ~10 minutes

"As is" parses each file with ``music21.converter.parse`` and writes every score of the
Opus with ``midi.translate.music21ObjectToMidiFile``: it counts the files whose tunes all go
through (what writing the whole Opus needs) and the tunes that do, with the failures by
reason. The other column is :func:`musicgen.music.scores.read_score_pieces`.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from musicgen.errors import MidiError
from musicgen.music.scores import one_line, quiet_music21, read_score_pieces


def as_is(path: Path) -> tuple[int, int, Counter]:
    """Tunes, tunes written, and failure reasons with music21 alone."""
    from music21 import converter, midi

    with quiet_music21():
        try:
            parsed = converter.parse(str(path), forceSource=True, storePickle=False)
        except Exception as error:  # noqa: BLE001 - counting music21's failures
            return 0, 0, Counter({f"parse: {type(error).__name__}": 1})
        scores = list(parsed.scores) if "Opus" in parsed.classes else [parsed]
        written, reasons = 0, Counter()
        for score in scores:
            try:
                midi.translate.music21ObjectToMidiFile(score).writestr()
                written += 1
            except Exception as error:  # noqa: BLE001 - counting music21's failures
                reasons[one_line(error)[:70]] += 1
    return len(scores), written, reasons


def ours(path: Path) -> tuple[int, int, Counter]:
    """Tunes, tunes written, and failure reasons with ``read_score_pieces``."""
    try:
        pieces = read_score_pieces(path)
    except MidiError as error:
        return 0, 0, Counter({str(error)[:70]: 1})
    return len(pieces), sum(piece.midi is not None for piece in pieces), Counter(piece.error[:70] for piece in pieces if piece.error)


def main(argv: list[str] | None = None) -> int:
    """Print both counts for the files matched by each pattern (corpus-relative or a path)."""
    from music21 import corpus

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("patterns", nargs="+", help="corpus-relative glob (essenFolksong/erk5.abc) or a path")
    args = parser.parse_args(argv)
    root = Path(corpus.__file__).resolve().parent
    for pattern in args.patterns:
        files = sorted(root.glob(pattern)) or sorted(Path().glob(pattern))
        totals = {"as is": [0, 0, 0, Counter()], "musicgen.music.scores": [0, 0, 0, Counter()]}
        for path in files:
            for label, reader in (("as is", as_is), ("musicgen.music.scores", ours)):
                tunes, written, reasons = reader(path)
                total = totals[label]
                total[0] += tunes
                total[1] += written
                total[2] += tunes > 0 and written == tunes
                total[3] += reasons
        for label, (tunes, written, whole, reasons) in totals.items():
            print(f"{pattern} [{label}]: {len(files)} files, {whole} with every tune written; {written} of {tunes} tunes")
            for reason, count in reasons.most_common(6):
                print(f"    {count:4d}  {reason}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
