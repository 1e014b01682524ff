"""What the page asks of the library, without the page: :class:`Studio` and its :class:`Take` objects.

A :class:`Studio` holds one :class:`musicgen.Session` per checkpoint asked for (loaded once,
its compiled samplers kept), the folder the files go to, and the soundfont, if any. Each request
(:meth:`Studio.make`: a new piece, a continuation, an infill or an accompaniment) runs one at a
time on the model (a lock; the page's queue also serialises them, so two browser tabs each get
their own result in turn), and comes back as one :class:`Take` per piece: the ``.mid`` named as
the command line names it, the piano roll, the seed and the command that makes it again. The
audio is rendered afterwards (:meth:`Studio.render_audio`), so the page can show the piano roll
while FluidSynth runs. Nothing here imports Gradio: the tests drive it directly.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from musicgen.errors import ConfigError, MusicgenError
from musicgen.music import render
from musicgen.studio import forms, pianoroll

if TYPE_CHECKING:
    from musicgen.generation.results import Result
    from musicgen.generation.session import Session
    from musicgen.music.piece import Piece

Progress = Callable[[float, str], None]  # (fraction done, what is happening)
# What each action is called on the command line (a continuation is ``generate --primer FILE``).
COMMAND_OF = {"generate": "generate", "continue": "generate", "infill": "infill", "accompany": "accompany"}
SOUNDFONT_HINT = ("No audio player here: no General MIDI soundfont (.sf2) was found. Install one (Debian/Ubuntu: "
                  "'sudo apt install fluidsynth fluid-soundfont-gm'), or start the studio with "
                  "'musicgen studio --soundfont FILE.sf2' (or set $MUSICGEN_SOUNDFONT). The MIDI files play in any DAW.")
FLUIDSYNTH_HINT = ("No audio player here: FluidSynth is not installed. Install it (Debian/Ubuntu: "
                   "'sudo apt install fluidsynth fluid-soundfont-gm'; or 'pip install pyfluidsynth') and start the "
                   "studio again. The MIDI files play in any DAW.")


@dataclass
class Take:
    """One piece made on the page: its files, its seed, and how to make it again."""

    number: int  # its place in the history of the page that asked for it, from 1
    action: str  # generate, continue, infill or accompany
    midi: Path
    roll: Path
    seed: int
    command: str  # the musicgen command that writes the same .mid
    options: Any  # the options dataclass it was made with
    summary: str = ""
    remarks: tuple[str, ...] = ()
    region: tuple[int, int] | None = None
    audio: Path | None = None
    audio_note: str = ""  # why there is no audio, when there is none

    @property
    def label(self) -> str:
        """How the history lists it: ``#3 generate, seed 42: base-...-seed42-01.mid``."""
        return f"#{self.number} {self.action}, seed {self.seed}: {self.midi.name}"

    def details(self) -> str:
        """Markdown: the seed, what was made, remarks, and the equivalent command."""
        lines = [f"**{self.label}**", "", f"Seed **{self.seed}** · {self.summary}"]
        lines += [f"- note: {remark}" for remark in self.remarks]
        lines += ["", "Make it again from the command line:", "", "```", self.command, "```"]
        return "\n".join(lines)


def audio_support(soundfont: str | None = None) -> tuple[Path | None, str]:
    """The soundfont to render audio with and ``""``, or None and a one-line hint saying how to get
    audio (a soundfont, FluidSynth)."""
    try:
        return render.check_wav_support(soundfont), ""
    except ConfigError as error:
        found = render.find_soundfont(soundfont)
        if soundfont is not None and found is not None and not found.is_file():
            return None, f"No audio player here: {error}."
        return None, SOUNDFONT_HINT if found is None else FLUIDSYNTH_HINT


def error_line(action: str, error: MusicgenError, file: str | None = None) -> str:
    """The command line's one-line error for ``error``: ``musicgen infill: error: song.mid: ...``.
    The page hands the library the upload's copy; the message names the file as the user does."""
    message = str(error)
    if file:
        message = message.replace(str(file), Path(file).name)
    return f"musicgen {COMMAND_OF.get(action, action)}: error: {message}"


class Studio:
    """The page's model side: sessions by checkpoint, the output folder, the soundfont."""

    def __init__(self, checkpoint: str | None = None, out_dir: str | Path = "generated",
                 soundfont: str | None = None) -> None:
        self.checkpoint = checkpoint or None  # None: the shipped base model
        self.out_dir = Path(out_dir)
        self.soundfont, self.audio_hint = audio_support(soundfont)
        self._sessions: dict[str | None, Session] = {}
        self._lock = threading.RLock()

    def session(self, checkpoint: str | None = None) -> Session:
        """The session of ``checkpoint`` (default: the studio's), loaded on first use and kept."""
        from musicgen.generation.session import Session

        key = (checkpoint or "").strip() or self.checkpoint
        with self._lock:
            if key not in self._sessions:
                self._sessions[key] = Session(key)
            return self._sessions[key]

    def warm_up(self) -> None:
        """Load the default checkpoint and compile the sampling loop a page's first request uses
        (one piece of some bars), so the first Generate does not wait for the compiler."""
        with self._lock:
            self.session().generate(bars=1.0, seed=0)

    def make(self, action: str, options: Any, checkpoint: str | None = None, file: str | None = None,
             progress: Progress | None = None, number: int = 1) -> list[Take]:
        """Run ``action`` (``generate``, ``continue``, ``infill`` or ``accompany``) with ``options``
        (the action's options dataclass) on ``file`` where it edits one; write the pieces; one
        :class:`Take` per piece, numbered from ``number``, with its piano roll (no audio yet:
        :meth:`render_audio`)."""
        def report(fraction: float, message: str) -> None:
            if progress is not None:
                progress(fraction, message)

        if action != "generate" and not file:
            raise ConfigError(f"{action} needs a file: upload a MIDI, MusicXML or ABC file first")
        if action == "continue":
            options = dataclasses.replace(options, primer=file)
        key = (checkpoint or "").strip() or self.checkpoint
        with self._lock:
            if key not in self._sessions:
                report(0.02, "loading the model (once per checkpoint)")
            session = self.session(key)
            report(0.1, "sampling")
            if action in ("generate", "continue"):
                result = session.generate(options, progress=lambda message: report(0.15, message))
            elif action in ("infill", "accompany"):
                result = getattr(session, action)(file, options)
            else:
                raise ConfigError(f"unknown action {action!r}")
            report(0.8, "writing the MIDI file")
            session.write(result, out_dir=str(self.out_dir))
        takes = []
        for index, (path, piece) in enumerate(zip(result.paths, result.pieces, strict=True)):
            report(0.85 + 0.1 * index / len(result.paths), "drawing the piano roll")
            takes.append(self._take(action, options, key, file, result, path, piece, index, number + index))
        return takes

    def _take(self, action: str, options: Any, checkpoint: str | None, file: str | None, result: Result,
              path: Path, piece: Piece, index: int, number: int) -> Take:
        roll = pianoroll.write_roll(path, piece, path.with_suffix(".png"), result.region)
        command = forms.command_line(options, checkpoint, file if action != "continue" else None, seed=result.seed)
        if len(result.pieces) > 1:
            command += f"   # piece {index + 1} of {len(result.pieces)}"
        return Take(number, action, path, roll, result.seed, command, options,
                    summary="; ".join(part for part in (result.summaries[index], result.summary) if part),
                    remarks=result.remarks, region=result.region, audio_note=self.audio_hint)

    def render_audio(self, take: Take) -> Take:
        """``take`` with its WAV rendered beside its ``.mid`` through FluidSynth (or, without a
        soundfont or FluidSynth, with the hint that says how to get one)."""
        if self.soundfont is None or take.audio is not None:
            return take
        try:
            take.audio = render.write_wav(take.midi, self.soundfont)
            take.audio_note = ""
        except MusicgenError as error:
            take.audio_note = f"No audio for this piece: {error}"
        return take
