"""A model loaded once, asked many times: :class:`Session`.

Loading a checkpoint and compiling its sampling loop take seconds; sampling a few bars takes
less. A session holds the loaded checkpoint, its compiled samplers (one per precision and
compile mode, each caching its loops) and the step network that infilling and accompaniment
drive token by token, so a second request (another seed, other instruments, another key, an
infill after a generate) reuses all of it: what a request asks for (instruments, controls, bar
limits) are inputs of the compiled loop, not constants in it.

The command line, the studio page and notebooks all use it::

    >>> import musicgen
    >>> session = musicgen.Session()                                        # doctest: +SKIP
    >>> result = session.generate(bars=8, instruments="piano,bass,drums")   # doctest: +SKIP
    >>> session.write(result, out_dir="generated")                          # doctest: +SKIP

Its methods return :class:`~musicgen.generation.results.Result` objects (pieces, the seed,
remarks) and print nothing; :meth:`Session.write` writes any of them.

:func:`generate`, :func:`generate_files`, :func:`infill` and :func:`accompany` are the one-call
API: a session for one request, and its result written.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

from musicgen.generation.options import (
    AccompanyOptions,
    GenerationOptions,
    InfillOptions,
    SamplingOptions,
)
from musicgen.generation.results import Result, write_result

if TYPE_CHECKING:
    from pathlib import Path

    from musicgen.generation.compose import Progress
    from musicgen.generation.sampler import Sampler
    from musicgen.models.stepping import StepNetwork
    from musicgen.training.checkpoint import Checkpoint


class Session:
    """A checkpoint (a directory, a loaded :class:`Checkpoint`, or None: the shipped base model)
    loaded once, with what sampling from it compiles kept for the next request."""

    def __init__(self, checkpoint: Checkpoint | str | os.PathLike | None = None) -> None:
        from musicgen.training.checkpoint import resolve_checkpoint

        self.checkpoint = resolve_checkpoint(checkpoint)
        self.tokenizer = self.checkpoint.tokenizer
        self._samplers: dict[tuple[str, Any], Sampler] = {}
        self._networks: dict[str, tuple[StepNetwork, Any]] = {}

    def sampler(self, precision: str = "auto", jit_compile: bool | str = "auto") -> Sampler:
        """The compiled sampler for ``precision`` (``auto``, ``float32``, ``bfloat16``) and compile mode."""
        from musicgen.generation.sampler import Sampler
        from musicgen.models.precision import choose_precision

        chosen = choose_precision(precision)[0]
        if (chosen, jit_compile) not in self._samplers:
            self._samplers[chosen, jit_compile] = Sampler.from_checkpoint(self.checkpoint, jit_compile=jit_compile,
                                                                          precision=chosen)
        return self._samplers[chosen, jit_compile]

    def step_network(self, precision: str = "auto") -> tuple[StepNetwork, Any]:
        """The step network for ``precision`` and its compiled one-token step (for edits)."""
        import tensorflow as tf

        from musicgen.models.precision import choose_precision
        from musicgen.models.stepping import StepNetwork

        chosen = choose_precision(precision)[0]
        if chosen not in self._networks:
            network = StepNetwork(self.checkpoint.model, chosen)
            self._networks[chosen] = (network, tf.function(network.step, reduce_retracing=True))
        return self._networks[chosen]

    def generate(self, options: GenerationOptions | None = None, progress: Progress | None = None,
                 **changes: Any) -> Result:
        """New pieces, or a continuation of ``options.primer`` (see :func:`musicgen.generation.compose.compose`);
        keyword arguments override fields of ``options``, e.g. ``generate(bars=8, seed=7)``."""
        from musicgen.generation.compose import compose
        from musicgen.generation.form import compose_form

        options = dataclasses.replace(options or GenerationOptions(), **changes)
        return (compose_form if options.form is not None else compose)(self, options, progress)

    def infill(self, source: Any, options: InfillOptions | None = None, **changes: Any) -> Result:
        """Bars of the file ``source`` written again (see :func:`musicgen.generation.infill.infill_piece`)."""
        from musicgen.generation.infill import infill_piece

        return infill_piece(self, source, dataclasses.replace(options or InfillOptions(), **changes))

    def accompany(self, source: Any, options: AccompanyOptions | None = None, **changes: Any) -> Result:
        """New tracks under the file ``source`` (see :func:`musicgen.generation.accompaniment.accompany_piece`)."""
        from musicgen.generation.accompaniment import accompany_piece

        return accompany_piece(self, source, dataclasses.replace(options or AccompanyOptions(), **changes))

    def write(self, result: Result, options: SamplingOptions | None = None, **changes: Any) -> Result:
        """Write ``result``'s pieces where ``options`` say (``out_dir``, ``plot``, and for new pieces
        ``wav`` with ``soundfont``); return it with its paths."""
        from musicgen.music import render

        options = dataclasses.replace(options or SamplingOptions(), **changes)
        soundfont = render.check_wav_support(options.soundfont) if getattr(options, "wav", False) else None
        return write_result(result, self.tokenizer, options.out_dir, options.plot, soundfont)


def generate_files(checkpoint: Checkpoint | str | os.PathLike | None = None, options: GenerationOptions | None = None,
                   progress: Progress | None = None, **changes: Any) -> Result:
    """Sample pieces and write one ``.mid`` each to ``options.out_dir``; see :func:`generate`.

    ``changes`` override fields of ``options`` (default :class:`GenerationOptions`).
    """
    options = dataclasses.replace(options or GenerationOptions(), **changes)
    session = Session(checkpoint)
    return session.write(session.generate(options, progress=progress), options)


def generate(checkpoint: Checkpoint | str | os.PathLike | None = None, options: GenerationOptions | None = None,
             **changes: Any) -> list[Path]:
    """Generate MIDI files and return their paths.

    ``checkpoint``: a directory or a loaded checkpoint (default: the shipped base model).
    ``options`` is a :class:`GenerationOptions`; keyword arguments override its fields,
    e.g. ``generate(num=2, bars=8, temperature=0.9, seed=7)``. ``length`` counts tokens
    after BOS, primer included; ``bars``/``seconds`` count new music after the primer.
    ``temperature=0`` is greedy decoding; ``top_k=0`` and ``top_p=1`` disable those
    filters; ``seed=None`` draws a random seed (:func:`generate_files` reports it).
    To ask again without loading again, use a :class:`Session`.
    """
    return generate_files(checkpoint, options, **changes).paths


def infill(path: Any, options: InfillOptions | None = None, checkpoint: Checkpoint | str | None = None,
           **changes: Any) -> Result:
    """Bars ``options.bars`` of the file at ``path`` written again by the model (only
    ``options.tracks``, if given), written to a new file in ``options.out_dir``.

    ``checkpoint`` is a directory or a loaded checkpoint (default: the shipped base model);
    keyword arguments override fields of ``options``, e.g. ``infill("song.mid", bars="9-12", seed=3)``.
    """
    options = dataclasses.replace(options or InfillOptions(), **changes)
    session = Session(checkpoint)
    return session.write(session.infill(path, options), options)


def accompany(path: Any, options: AccompanyOptions | None = None, checkpoint: Checkpoint | str | None = None,
              **changes: Any) -> Result:
    """The file at ``path`` with new tracks of ``options.instruments`` (e.g. ``"bass,drums"``)
    written under it, to a new file in ``options.out_dir``.

    ``checkpoint`` is a directory or a loaded checkpoint (default: the shipped base model);
    keyword arguments override fields of ``options``, e.g. ``accompany("tune.mid", instruments="bass")``.
    """
    options = dataclasses.replace(options or AccompanyOptions(), **changes)
    session = Session(checkpoint)
    return session.write(session.accompany(path, options), options)
