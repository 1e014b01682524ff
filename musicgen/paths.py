"""Where the bundled data and shipped models live.

musicgen is meant to be installed from a checkout (``pip install -e .``); the
bundled MIDI (``data/``) and the shipped models (``checkpoints/``) sit beside
the package in the repository root.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
DATA_DIR = REPO_ROOT / "data"
BACH_MIDI_DIR = DATA_DIR / "midi" / "bach"
CHECKPOINTS_DIR = REPO_ROOT / "checkpoints"
BASE_CHECKPOINT = CHECKPOINTS_DIR / "base"  # the pretrained model: generation, fine-tuning, steering, infill
DEFAULT_CHECKPOINT = BASE_CHECKPOINT  # what ``musicgen generate`` samples without --checkpoint
BACH_CHECKPOINT = CHECKPOINTS_DIR / "bach"
SENTIMENT_DATA_DIR = DATA_DIR / "sentiment"
TRANSLATION_DATA_DIR = DATA_DIR / "translation"
SENTIMENT_CHECKPOINT = CHECKPOINTS_DIR / "sentiment"
TRANSLATION_CHECKPOINT = CHECKPOINTS_DIR / "translate"
