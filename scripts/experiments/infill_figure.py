"""Draw a piece before and after ``musicgen infill``: two piano rolls, with the bars that were written again shaded.

    python scripts/experiments/infill_figure.py ORIGINAL.mid INFILLED.mid --bars 5-8 --out docs/images/infill.png

The bars are numbered from 1, as ``musicgen infill --bars`` numbers them. Notes are coloured by track.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pretty_midi


def bar_span(pm: pretty_midi.PrettyMIDI, first: int, last: int) -> tuple[float, float]:
    """Start and end time in seconds of bars ``first..last`` (from 1)."""
    downbeats = list(pm.get_downbeats())
    end = pm.get_end_time()
    downbeats.append(max(end, downbeats[-1] + 1e-3))
    return downbeats[first - 1], downbeats[min(last, len(downbeats) - 1)]


def draw(axes, pm: pretty_midi.PrettyMIDI, title: str, span: tuple[float, float]) -> None:
    from matplotlib import pyplot

    colours = pyplot.get_cmap("tab10")
    axes.axvspan(*span, color="0.9", zorder=0)
    for index, instrument in enumerate(pm.instruments):
        bars = [(note.start, max(note.end - note.start, 1e-3)) for note in instrument.notes]
        for note, bar in zip(instrument.notes, bars, strict=True):
            axes.broken_barh([bar], (note.pitch - 0.4, 0.8), color=colours(index % 10), zorder=1)
        axes.plot([], [], color=colours(index % 10), linewidth=6, label=instrument.name or f"program {instrument.program}")
    axes.set_title(title, fontsize="medium", loc="left")
    axes.set_ylabel("MIDI pitch")
    axes.legend(loc="upper right", fontsize="x-small", ncol=len(pm.instruments))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("original")
    parser.add_argument("infilled")
    parser.add_argument("--bars", required=True, metavar="FIRST-LAST")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    first, last = (int(part) for part in args.bars.split("-"))
    before, after = pretty_midi.PrettyMIDI(args.original), pretty_midi.PrettyMIDI(args.infilled)
    span = bar_span(before, first, last)
    figure, (top, bottom) = pyplot.subplots(2, 1, figsize=(12, 6), dpi=100, sharex=True, sharey=True)
    draw(top, before, f"before: {Path(args.original).name}", span)
    draw(bottom, after, f"after: bars {first}-{last} written again (shaded)", span)
    bottom.set_xlabel("time (s)")
    bottom.set_xlim(0, max(before.get_end_time(), after.get_end_time()))
    figure.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, format="png")
    print(args.out)


if __name__ == "__main__":
    main()
