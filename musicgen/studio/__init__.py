"""``musicgen studio``: a local web page over the library, beside the command line.

A musician generates, steers, edits and listens in one place: every option of ``musicgen
generate``, ``infill`` and ``accompany`` is a control (read off the same option dataclasses the
command line reads), each piece shows its piano roll, its audio and its ``.mid``, the seed and
the command that makes it again, and the pieces of a browser tab stay in its history.

- :mod:`~musicgen.studio.forms`: the controls, the options they give, the equivalent command
  (no Gradio, no TensorFlow);
- :mod:`~musicgen.studio.engine`: :class:`~musicgen.studio.engine.Studio`, one
  :class:`musicgen.Session` per checkpoint and what a request makes (no Gradio);
- :mod:`~musicgen.studio.pianoroll`: the page's piano roll (bar numbers, chords, sections);
- :mod:`~musicgen.studio.page`: the Gradio page; :mod:`~musicgen.studio.server`: starting it
  offline (:func:`~musicgen.studio.server.serve`).

Gradio is an optional extra (``pip install -e ".[studio]"``); only the page and the server
import it.
"""
