"""The studio's page: Gradio Blocks over a :class:`~musicgen.studio.engine.Studio`.

Every control is a field of an options dataclass (:mod:`musicgen.studio.forms`), labelled with its
flag and helped by its ``--help`` text. The left column asks: a new piece (**Generate**), or a file
to continue, infill or accompany, with the sampling options they share. The right column shows
the last piece: the one-line error where there is one, the piano roll, the audio, the ``.mid`` to
download or drag into a DAW, and the seed with the command that makes the piece again. Below, the
history of this browser tab's pieces: choose one to see and hear it again, take its settings back
into the controls, or continue from it. Every request that runs the model shares one queue
(``concurrency_id="model"``), so two tabs each get their own result in turn.
"""

from __future__ import annotations

import html
import urllib.parse
from pathlib import Path
from typing import Any

import gradio as gr

from musicgen.errors import MusicgenError
from musicgen.generation.options import (
    AccompanyOptions,
    GenerationOptions,
    InfillOptions,
    SamplingOptions,
)
from musicgen.music.midi_io import MUSIC_SUFFIXES
from musicgen.studio import forms
from musicgen.studio.engine import Studio, Take, error_line

CSS = """
#studio-error p { color: #b00020; font-family: ui-monospace, monospace; margin: 0; }
#studio-audio audio { width: 100%; }
#studio-audio .studio-note { color: #555; font-size: 0.9em; }
"""
INTRO = ("# musicgen studio\n"
         "Generate, steer, edit and listen. Every control is a `musicgen` flag; each piece shows the command "
         "that makes it again. The files go to `{out_dir}`.")


def model_suggestions(studio: Studio, checkpoint: str | None = None) -> dict[str, list[str]]:
    """The values the checkpoint's header controls take (style names, keys, densities), by option
    name: a dropdown offers them, and any other text may still be typed."""
    tokenizer = studio.session(checkpoint).tokenizer
    found = {}
    for control in getattr(tokenizer, "controls", ()):
        try:
            found[control.name] = [control.describe(int(value), tokenizer.config)
                                   for value in control.values(tokenizer.config)]
        except (NotImplementedError, TypeError, ValueError):
            continue
    return found


def widget(control: forms.Control, form: str, suggestions: list[str] | None = None) -> gr.components.Component:
    """The widget of one option: a checkbox, a number, a dropdown (choices, or the model's values
    with free text allowed) or a text box (also for a number whose default is None: left empty, it
    is None, the option's own behaviour); labelled with its flag, its help as the info line."""
    common = {"label": control.label, "info": control.info, "elem_id": f"studio-{form}-{control.name}"}
    if control.kind == "check":
        return gr.Checkbox(value=bool(control.default), **common)
    if control.kind == "choice":
        return gr.Dropdown(choices=list(control.choices), value=control.default, **common)
    if control.kind in ("integer", "number") and not control.optional:  # an empty number box reads as 0
        return gr.Number(value=control.default, precision=0 if control.kind == "integer" else None, **common)
    if suggestions:
        return gr.Dropdown(choices=["", *suggestions], value=control.default or "", allow_custom_value=True,
                           **common)
    value = "" if control.default is None else forms.shown(control.default)
    return gr.Textbox(value=value, placeholder=control.default_text, **common)


def audio_html(wav: Path | None, note: str = "") -> str:
    """A plain ``<audio>`` player of the rendered WAV (served from the output folder, which the
    server allows), with a link to download it; without a WAV, ``note`` (the hint that says how
    to get audio, or that it is being rendered)."""
    if wav is None:
        return f'<p class="studio-note">{html.escape(note)}</p>' if note else ""
    address = "gradio_api/file=" + urllib.parse.quote(str(Path(wav).resolve()))
    return (f'<audio controls preload="metadata" src="{address}"></audio>'
            f'<p class="studio-note"><a href="{address}" download="{html.escape(Path(wav).name)}">'
            f'{html.escape(Path(wav).name)}</a> (FluidSynth)</p>')


FORMS_USED = {"generate": ("new", "sampling"), "continue": ("new", "continue", "sampling"),
              "infill": ("infill", "sampling"), "accompany": ("accompany", "sampling")}  # action -> its forms


class Page:
    """The page's components, built in a ``gr.Blocks`` context, and what its buttons do."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.forms: dict[str, tuple[type, dict[str, Any]]] = {}  # form -> (options class, name -> widget)
        self.suggested: dict[str, Any] = {}  # form.option -> dropdown the model's values fill
        with gr.Row():
            self._controls()
            self._outputs()
        self._history()
        self._wire()

    def _form(self, form: str, cls: type, controls: list[forms.Control], suggestions: dict[str, list[str]]) -> None:
        widgets = self.forms.setdefault(form, (cls, {}))[1]
        for control in controls:
            widgets[control.name] = widget(control, form, suggestions.get(control.name))
            if control.name in suggestions:
                self.suggested[f"{form}.{control.name}"] = widgets[control.name]

    def _controls(self) -> None:
        suggestions = model_suggestions(self.studio)
        first, rest = forms.generation_controls()
        with gr.Column(scale=1, min_width=360):
            self.checkpoint = gr.Textbox(label="checkpoint", value=self.studio.checkpoint or "",
                                         placeholder="checkpoints/base (the shipped base model)",
                                         info="checkpoint directory; press Enter to load another (kept loaded)",
                                         elem_id="studio-checkpoint")
            with gr.Tabs(selected="new") as self.tabs:
                with gr.Tab("New piece", id="new"):
                    self._form("new", GenerationOptions, first, suggestions)
                    with gr.Accordion("More options", open=False):
                        self._form("new", GenerationOptions, rest, suggestions)
                    self.generate = gr.Button("Generate", variant="primary", elem_id="studio-generate")
                with gr.Tab("From a file", id="file"):
                    self.upload = gr.File(label="MIDI, MusicXML or ABC file", type="filepath", elem_id="studio-upload",
                                          file_types=sorted(MUSIC_SUFFIXES))
                    with gr.Accordion("Continue it (with the new-piece settings)", open=True):
                        self._form("continue", GenerationOptions, forms.controls_of(GenerationOptions, forms.CONTINUE),
                                   {})
                        self.continue_ = gr.Button("Continue", elem_id="studio-continue")
                    with gr.Accordion("Infill bars", open=True):
                        self._form("infill", InfillOptions, forms.controls_of(InfillOptions, exclude=forms.SAMPLING),
                                   {})
                        self.infill = gr.Button("Infill", elem_id="studio-infill")
                    with gr.Accordion("Accompany it", open=True):
                        self._form("accompany", AccompanyOptions,
                                   forms.controls_of(AccompanyOptions, exclude=forms.SAMPLING), {})
                        self.accompany = gr.Button("Accompany", elem_id="studio-accompany")
            with gr.Accordion("Sampling (every action)", open=False):
                self._form("sampling", SamplingOptions, forms.controls_of(SamplingOptions, forms.SAMPLING), {})

    def _outputs(self) -> None:
        with gr.Column(scale=2):
            self.error = gr.Markdown("", elem_id="studio-error")
            self.roll = gr.Image(label="piano roll", type="filepath", interactive=False, elem_id="studio-roll",
                                 buttons=["download", "fullscreen"])
            self.audio = gr.HTML(audio_html(None, self.studio.audio_hint), label="listen", elem_id="studio-audio")
            self.midi = gr.File(label="MIDI file (download, or drag into a DAW)", interactive=False,
                                elem_id="studio-midi")
            self.details = gr.Markdown("", elem_id="studio-details")

    def _history(self) -> None:
        self.takes = gr.State([])  # this tab's pieces
        self.pending = gr.State([])  # the pieces whose audio is still to render
        with gr.Accordion("History", open=True):
            self.chooser = gr.Radio(label="pieces made in this tab: choose one to see and hear it again",
                                    choices=[], type="index", elem_id="studio-history")
            with gr.Row():
                self.reuse = gr.Button("Use its settings", elem_id="studio-reuse")
                self.continue_from = gr.Button("Continue from this", elem_id="studio-continue-from")

    @property
    def shown(self) -> list[Any]:
        return [self.error, self.roll, self.audio, self.midi, self.details]

    def _wire(self) -> None:
        # Every event that runs the model or FluidSynth waits its turn in one queue, in order:
        # two tabs each get their own piece, and a piece's audio is ready before the next piece.
        model = {"concurrency_limit": 1, "concurrency_id": "model"}
        for action, button in (("generate", self.generate), ("continue", self.continue_),
                               ("infill", self.infill), ("accompany", self.accompany)):
            button.click(self._handler(action), inputs=self._inputs(action),
                         outputs=[*self.shown, self.takes, self.chooser, self.pending], **model).then(
                self._render, inputs=[self.pending], outputs=[self.audio], **model)
        self.checkpoint.submit(self._load, inputs=[self.checkpoint], outputs=[self.error, *self.suggested.values()],
                               **model)
        self.chooser.input(self._show, inputs=[self.takes, self.chooser], outputs=self.shown, **model)
        every = [widget for _, widgets in self.forms.values() for widget in widgets.values()]
        self.reuse.click(self._reuse, inputs=[self.takes, self.chooser], outputs=every)
        self.continue_from.click(self._continue_from, inputs=[self.takes, self.chooser],
                                 outputs=[self.upload, self.tabs, self.error])

    def _inputs(self, action: str) -> set[Any]:
        widgets = {widget for form in FORMS_USED[action] for widget in self.forms[form][1].values()}
        return {self.checkpoint, self.upload, self.takes, *widgets}

    def _values(self, data: dict[Any, Any], action: str) -> dict[str, Any]:
        values = {name: data[widget] for form in FORMS_USED[action] for name, widget in self.forms[form][1].items()}
        if action == "continue":
            values.pop("instruments", None)  # a continuation keeps the file's tracks
        return values

    def _handler(self, action: str) -> Any:
        """What the action's button does: the pieces, their piano roll and ``.mid`` shown and kept
        in the history, or the command line's one-line error; the audio follows (:meth:`_render`)."""
        cls = {"generate": GenerationOptions, "continue": GenerationOptions, "infill": InfillOptions,
               "accompany": AccompanyOptions}[action]

        def run(data: dict[Any, Any], progress: gr.Progress = gr.Progress()) -> dict[Any, Any]:  # noqa: B008
            file = data[self.upload] if action != "generate" else None
            try:
                options = forms.options_from(cls, self._values(data, action))
                takes = self.studio.make(action, options, data[self.checkpoint], file,
                                         progress=lambda fraction, message: progress(fraction, desc=message),
                                         number=len(data[self.takes]) + 1)
            except MusicgenError as error:
                return {self.error: error_line(action, error, file), self.pending: []}
            history = [*data[self.takes], *takes]
            first = takes[0]
            return {self.error: "", self.roll: str(first.roll), self.midi: str(first.midi),
                    self.audio: audio_html(None, "rendering the audio..." if self.studio.soundfont else first.audio_note),
                    self.details: first.details(), self.takes: history, self.pending: takes,
                    self.chooser: gr.Radio(choices=[take.label for take in history], value=first.label)}

        return run

    def _render(self, takes: list[Take]) -> Any:
        """The audio of the pieces just made (the first one is shown)."""
        if not takes:
            return gr.skip()
        for take in takes:
            self.studio.render_audio(take)
        return audio_html(takes[0].audio, takes[0].audio_note)

    def _load(self, checkpoint: str) -> list[Any]:
        try:
            suggestions = model_suggestions(self.studio, checkpoint)
        except MusicgenError as error:
            return [f"musicgen studio: error: {error}", *(gr.skip() for _ in self.suggested)]
        return ["", *(gr.Dropdown(choices=["", *suggestions.get(key.partition(".")[2], [])])
                      for key in self.suggested)]

    def _show(self, takes: list[Take], index: int | None) -> list[Any]:
        if index is None or not 0 <= index < len(takes):
            return [gr.skip()] * len(self.shown)
        take = self.studio.render_audio(takes[index])
        return ["", str(take.roll), audio_html(take.audio, take.audio_note), str(take.midi),
                take.details()]

    def _reuse(self, takes: list[Take], index: int | None) -> list[Any]:
        """The chosen piece's options (its seed included) back into the controls of its form."""
        updates = []
        take = takes[index] if index is not None and 0 <= index < len(takes) else None
        for cls, widgets in self.forms.values():
            for name, box in widgets.items():
                if take is None or not isinstance(take.options, cls) or not hasattr(take.options, name):
                    updates.append(gr.skip())
                    continue
                value = take.seed if name == "seed" else getattr(take.options, name)
                if isinstance(box, gr.Textbox) and not isinstance(value, str):
                    value = "" if value is None else forms.shown(value)  # 8 bars reads "8", not "8.0"
                updates.append(gr.update(value=value))
        return updates

    def _continue_from(self, takes: list[Take], index: int | None) -> list[Any]:
        if index is None or not 0 <= index < len(takes):
            return [gr.skip(), gr.skip(), "musicgen studio: error: choose a piece in the history first"]
        return [str(takes[index].midi), gr.Tabs(selected="file"), ""]


def build_page(studio: Studio) -> gr.Blocks:
    """The studio's page over ``studio`` (not yet launched)."""
    with gr.Blocks(title="musicgen studio", analytics_enabled=False) as blocks:
        gr.Markdown(INTRO.format(out_dir=studio.out_dir))
        page = Page(studio)
    blocks.studio_page = page
    return blocks
