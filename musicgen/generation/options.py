"""Every option of generating and editing music, with its default (imports no TensorFlow).

:class:`SamplingOptions` (temperature, top-k, top-p, seed, where files go) is what every
command that samples shares. :class:`GenerationOptions` adds what ``musicgen generate``
and :func:`musicgen.generation.compose.generate` take; :class:`InfillOptions` and
:class:`AccompanyOptions` what ``musicgen infill`` and ``musicgen accompany`` (and
:func:`musicgen.generation.infill.infill`, :func:`musicgen.generation.accompaniment.accompany`)
take. The commands build their flags from these fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from musicgen.errors import ConfigError
from musicgen.generation.steering import (
    CANDIDATES,
    CHORD_GUIDANCE,
    GROOVE,
    KEY_GUIDANCE,
    VOICE_LEADING,
    check_steering_options,
)
from musicgen.models.precision import PRECISIONS
from musicgen.music import midi_io
from musicgen.options import option

DEFAULT_LENGTH = 512
TIMED_LENGTH_CAP = 8192  # token cap when --bars/--seconds decide the length


@dataclass(frozen=True)
class SamplingOptions:
    """How tokens are drawn and where the files go: shared by every command that samples."""

    temperature: float = option(1.0, "softmax temperature; lower is safer, 0 means greedy", metavar="T")
    top_k: int = option(0, "sample among the K most likely tokens (0: off)", metavar="K")
    top_p: float = option(1.0, "nucleus sampling: the smallest set of mass P, in (0, 1] (1: off)", metavar="P")
    seed: int | None = option(None, "random seed", metavar="N", default_text="random, printed")
    out_dir: str = option("generated", "output directory", flag="--out", metavar="DIR")
    plot: bool = option(False, "also write a piano-roll PNG per piece")
    precision: str = option(
        "auto", "precision of the model's matrix products: auto (bfloat16 where the CPU has bfloat16 units), "
        "float32 or bfloat16; a seed gives the same file for one machine and precision", choices=PRECISIONS[:3])
    chord_guidance: float = option(
        CHORD_GUIDANCE, "how strongly the chord sounding at a note pulls its pitch toward the chord's tones (a bass "
        "toward its root and fifth, below middle C), and how much less a note held into a chord it is no tone of "
        "gets; models whose bars state their chords (0: off)", metavar="G")
    groove: float = option(
        GROOVE, "how strongly each part is pulled to play its bar again (drums and a bass fully, other parts "
        "half; a pitched part only where that bar had this bar's chords) and the harmony to return four bars "
        "on, but in the last bar of every four, left free to vary; models with repeat tokens (0: off)", metavar="G")
    voice_leading: float = option(
        VOICE_LEADING, "how strongly a part is kept from moving with another in consecutive fifths or octaves "
        "(a bass keeps its roots); models with bars and tracks (0: off)", metavar="G")

    def validate(self) -> None:
        """Raise :class:`ConfigError` for an out-of-range option."""
        check_sampling_options(self.temperature, self.top_k, self.top_p)
        if self.seed is not None and (not isinstance(self.seed, int) or self.seed < 0):
            raise ConfigError(f"--seed must be a non-negative integer, got {self.seed!r}")
        for name in ("chord_guidance", "groove", "voice_leading"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, (int, float)) and 0 <= value < 100):
                raise ConfigError(f"--{name.replace('_', '-')} must be a number from 0 to 100, got {value!r}")


@dataclass(frozen=True)
class GenerationOptions(SamplingOptions):
    """Every option of new pieces and continuations: the sibling of :class:`~musicgen.training.config.TrainConfig`.

    ``musicgen generate``, :func:`generate` and :func:`generate_files` all take these.
    """

    num: int = option(1, "number of pieces, sampled as one batch", metavar="N")
    length: int | None = option(
        None, "tokens per piece after BOS, primer included", metavar="TOKENS",
        default_text=f"{DEFAULT_LENGTH}; with --bars/--seconds a cap of {TIMED_LENGTH_CAP}",
    )
    bars: float | None = option(None, "stop after this many bars of new music", metavar="N")
    seconds: float | None = option(None, "stop after this many seconds of new music", metavar="S")
    beam_size: int = option(
        0, "beam search with this many beams instead of sampling (returns the --num best)", metavar="K"
    )
    primer: str | None = option(None, "continue this MIDI file instead of starting fresh", metavar="FILE.mid")
    primer_bars: int | None = option(
        None, "prime with the primer's last N bars (the file still holds all of it)", metavar="N",
        default_text="as many as fit the model's context",
    )
    instruments: str | None = option(
        None, "the tracks to write, e.g. piano,bass,drums (General MIDI names or numbers; notes encoding)",
        metavar="LIST", default_text="the model's choice",
    )
    key: str | None = option(None, "the key, e.g. 'D minor' (models with KEY controls)", metavar="KEY",
                             default_text="the model's choice")
    key_guidance: float = option(
        KEY_GUIDANCE, "with --key: how strongly the key's pitch profile pulls the pitched tracks' notes "
        "(0: the KEY token alone)", metavar="G")
    candidates: int = option(
        CANDIDATES, "with --key or --density: draw N pieces for each one asked for and keep the first that has "
        "that key and density (1: keep every draw; new pieces only, not --primer or --beam-size)", metavar="N")
    density: str | None = option(None, "note density: low, medium or high (models with DENSITY controls)",
                                 metavar="LEVEL", default_text="the model's choice")
    style: str | None = option(None, "the style, a top folder of the training data (models with STYLE controls)",
                               metavar="NAME", default_text="the model's choice")
    tempo: float | None = option(None, "tempo in BPM", metavar="BPM", default_text="the primer's, else the model's")
    chords: str | None = option(
        None, "the chords the bars follow: one a bar, repeated ('C G Am F'), or with lengths in beats "
        "('Dm7:2 G7:2 Cmaj7:4'); models whose bars state their chords", metavar="CHORDS",
        default_text="the model's choice")
    form: str | None = option(
        None, "sections in order with their bars, e.g. 'A8 B8 A8 B8 C4 A8' (a returning letter is the same "
        "music), or verse-chorus, aaba, ternary, rondo; --bars is then their sum", metavar="FORM",
        default_text="none: the model's own repetition")
    variation: float = option(
        0.25, "with --form: the share of a returning section's last bars written anew (0: an exact repeat)",
        metavar="SHARE")
    quantize: str = option(
        "auto", "onsets and lengths on the grid of sixteenths and triplet eighths: on, off, or auto (on unless "
        "the style asked for is performed, as POP909 and Groove are)", choices=("auto", "on", "off"))
    controls: str | None = option(
        None, "other controls the model was trained with, e.g. register=high (see its tokenizer.json)",
        flag="--control", metavar="NAME=VALUE,...", default_text="none")
    program: int | None = option(
        None, "General MIDI program 0-127 for single-instrument output (e.g. 40 violin)", metavar="N",
        default_text="as sampled",
    )
    wav: bool = option(False, "also render a WAV per piece (needs FluidSynth)")
    soundfont: str | None = option(None, "General MIDI .sf2 soundfont for --wav", metavar="PATH",
                                   default_text="$MUSICGEN_SOUNDFONT or a system one")

    def validate(self) -> None:
        """Raise :class:`ConfigError` for an out-of-range or contradictory option."""
        super().validate()
        if not isinstance(self.num, int) or self.num < 1:
            raise ConfigError(f"--num must be a positive integer, got {self.num!r}")
        if self.tempo is not None:
            midi_io.check_tempo(self.tempo, "--tempo")
        if self.program is not None and not (isinstance(self.program, int) and 0 <= self.program <= 127):
            raise ConfigError(f"--program must be a General MIDI program 0..127, got {self.program!r}")
        if self.bars is not None and self.seconds is not None:
            raise ConfigError("give --bars or --seconds, not both")
        for label, value in (("--bars", self.bars), ("--seconds", self.seconds)):
            if value is not None and not value > 0:
                raise ConfigError(f"{label} must be positive, got {value}")
        if self.length is not None and (not isinstance(self.length, int) or self.length < 1):
            raise ConfigError(f"--length must be a positive integer, got {self.length!r}")
        if not isinstance(self.beam_size, int) or self.beam_size < 0:
            raise ConfigError(f"--beam-size must be a non-negative integer, got {self.beam_size!r}")
        check_steering_options(self.key_guidance, self.candidates)
        if self.primer_bars is not None and (not isinstance(self.primer_bars, int) or self.primer_bars < 1):
            raise ConfigError(f"--primer-bars must be a positive integer, got {self.primer_bars!r}")
        if self.primer_bars is not None and self.primer is None:
            raise ConfigError("--primer-bars needs --primer")
        if not 0.0 <= self.variation <= 1.0:
            raise ConfigError(f"--variation must be in 0..1, got {self.variation!r}")
        if self.form is not None and (self.bars is not None or self.seconds is not None or self.beam_size > 1):
            raise ConfigError("--form sets the bars (the sum of its sections); leave out --bars, --seconds and "
                              "--beam-size")
        if self.instruments is not None and self.primer is not None:
            raise ConfigError("--instruments sets the tracks of a new piece; to add instruments to a file, use "
                              "'musicgen accompany FILE --instruments ...'")

    @property
    def token_length(self) -> int:
        """The token limit: ``length``, or its default for untimed and timed runs."""
        if self.length is not None:
            return self.length
        return TIMED_LENGTH_CAP if (self.bars or self.seconds) else DEFAULT_LENGTH




@dataclass(frozen=True)
class InfillOptions(SamplingOptions):
    """Every option of ``musicgen infill``: which bars and tracks to write again."""

    bars: str | None = option(None, "the bars to write again, e.g. 9-12 (counted from 1)", metavar="FIRST-LAST",
                              required=True)
    tracks: str | None = option(None, "only these tracks, by track name or instrument", metavar="NAMES",
                                default_text="every track")

    def validate(self) -> None:
        super().validate()
        if not self.bars:
            raise ConfigError("infill needs the bars to write again, e.g. --bars 9-12")


@dataclass(frozen=True)
class AccompanyOptions(SamplingOptions):
    """Every option of ``musicgen accompany``: the new tracks."""

    instruments: str | None = option(None, "the new tracks, e.g. bass,drums (General MIDI names or numbers)",
                                     metavar="LIST", required=True)
    chords: str | None = option(
        None, "the chords the new parts play, one a bar from the file's first bar, repeated ('C G Am F'), or "
        "with lengths in beats", metavar="CHORDS", default_text="the file's own chord symbols, else those its "
        "notes make")

    def validate(self) -> None:
        super().validate()
        if not self.instruments:
            raise ConfigError("accompany needs the instruments of the new tracks, e.g. --instruments bass,drums")


def check_sampling_options(temperature: float, top_k: int, top_p: float) -> None:
    """Raise :class:`ConfigError` for out-of-range sampling options."""
    if not temperature >= 0.0:
        raise ConfigError(f"--temperature must be >= 0 (0 means greedy), got {temperature}")
    if not isinstance(top_k, int) or top_k < 0:
        raise ConfigError(f"--top-k must be a non-negative integer (0 disables it), got {top_k}")
    if not 0.0 < top_p <= 1.0:
        raise ConfigError(f"--top-p must be in (0, 1] (1 disables it), got {top_p}")
