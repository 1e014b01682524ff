"""Attention heat-map of one translation (matplotlib, Agg backend, written atomically)."""

from __future__ import annotations

from pathlib import Path

from musicgen import fileio
from musicgen.errors import ConfigError


def plot_attention(translation, path: str | Path) -> Path:
    """Write a PNG heat-map: English output words (rows) by Spanish source words (columns)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    path = Path(path)
    if path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ConfigError(f"{path}: the plot must be a .png, .pdf or .svg file")
    rows = [*translation.target_tokens, "</s>"][: translation.attention.shape[0]]
    columns = translation.source_tokens
    figure, axes = pyplot.subplots(figsize=(1.0 + 0.6 * len(columns), 1.0 + 0.45 * len(rows)))
    try:
        image = axes.imshow(translation.attention, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
        axes.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
        axes.set_yticks(range(len(rows)), rows)
        axes.set_xlabel("Spanish source")
        axes.set_ylabel("English output")
        axes.set_title(translation.text or "(empty)", fontsize=10)
        figure.colorbar(image, ax=axes, fraction=0.05)
        figure.tight_layout()
        with fileio.atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=120)
    finally:
        pyplot.close(figure)
    return path
