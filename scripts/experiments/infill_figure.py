"""Draw a piece before and after ``musicgen infill``: two piano rolls, with the bars that were written again shaded.

    python scripts/experiments/infill_figure.py ORIGINAL.mid INFILLED.mid --bars 5-8 --out docs/images/infill.png

The bars are numbered from 1, as ``musicgen infill --bars`` numbers them. Notes are coloured by track.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pretty_midi

from musicgen.music.render import draw_piano_roll


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
    figure, (top, bottom) = pyplot.subplots(2, 1, figsize=(12, 6), dpi=100, sharex=True, sharey=True)
    draw_piano_roll(top, before, (first, last))
    top.set_title(f"before: {Path(args.original).name}", fontsize="medium", loc="left")
    draw_piano_roll(bottom, after, (first, last))
    bottom.set_title(f"after: bars {first}-{last} written again (shaded)", fontsize="medium", loc="left")
    bottom.set_xlabel("time (s)")
    bottom.set_xlim(0, max(before.get_end_time(), after.get_end_time()))
    figure.tight_layout()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, format="png")
    print(args.out)


if __name__ == "__main__":
    main()
