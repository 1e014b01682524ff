"""``musicgen studio``: controls read off the option dataclasses, pieces that the command line makes
again byte for byte, the piano roll's markings, the audio hint, the command line's one-line errors,
and a real browser (Debian's Chromium through Selenium) on a started ``musicgen studio``."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import queue
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from musicgen.cli import main
from musicgen.errors import ConfigError
from musicgen.generation.options import GenerationOptions, InfillOptions
from musicgen.options import option
from musicgen.studio import forms

SCREENSHOT = os.environ.get("MUSICGEN_STUDIO_SCREENSHOT")  # also save the browser test's screenshot here
CHECKPOINT = os.environ.get("MUSICGEN_STUDIO_CHECKPOINT")  # the browser tests' model (default: a tiny one)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained notes-encoding model: three tracks at most, a small vocabulary, fast to sample."""
    import keras
    from checkpoint_factory import write_checkpoint

    from musicgen.models.language import build_language_model
    from musicgen.tokens import Tokenizer, TokenizerConfig

    keras.utils.set_random_seed(0)
    tokenizer = Tokenizer(TokenizerConfig(velocity_bins=1, min_pitch=48, max_pitch=72, max_tracks=3,
                                          steps_per_quarter=4))
    model = build_language_model(tokenizer.vocab_size, cell="lstm", units=16, num_layers=1, embedding_dim=8,
                                 implementation="keras")
    return write_checkpoint(tmp_path_factory.mktemp("checkpoints") / "tiny", model, tokenizer, state={"epoch": 0})


@pytest.fixture(scope="module")
def studio(tiny: Path, tmp_path_factory: pytest.TempPathFactory):
    from musicgen.studio.engine import Studio

    return Studio(str(tiny), tmp_path_factory.mktemp("studio-out"))


# -- controls: the option dataclasses, read once ---------------------------------------------------------------


def test_every_generation_option_is_a_control_labelled_with_its_flag() -> None:
    first, rest = forms.generation_controls()
    sampling = forms.controls_of(GenerationOptions, forms.SAMPLING)
    continuing = forms.controls_of(GenerationOptions, forms.CONTINUE)
    shown = [control.name for control in (*first, *rest, *sampling, *continuing)]
    fields = [field.name for field in dataclasses.fields(GenerationOptions)]
    assert sorted(shown) == sorted(set(fields) - forms.PAGE_OWNED) and len(shown) == len(set(shown))
    assert [control.name for control in first][:3] == ["style", "instruments", "key"]
    top_p = next(control for control in sampling if control.name == "top_p")
    assert (top_p.label, top_p.kind, top_p.default) == ("top p", "number", 1.0)
    assert top_p.info.startswith("nucleus sampling") and "(default: 1.0)" in top_p.info
    controls = next(control for control in rest if control.name == "controls")
    assert controls.flag == "--control"  # the field's own flag, not one made from its name
    precision = next(control for control in sampling if control.name == "precision")
    assert precision.kind == "choice" and "bfloat16" in precision.choices


def test_an_option_added_to_the_dataclass_appears_on_the_page_and_in_the_command() -> None:
    @dataclasses.dataclass(frozen=True)
    class WithMood(GenerationOptions):
        mood_level: int | None = option(None, "how sad, 0-9", metavar="N")

    (mood,) = forms.controls_of(WithMood, ("mood_level", "no_such_option"))
    assert (mood.label, mood.kind, mood.info, mood.optional) == ("mood level", "integer", "how sad, 0-9 (default: none)",
                                                                 True)
    options = forms.options_from(WithMood, {"mood_level": " 3 ", "bars": 8})
    assert forms.command_line(options, seed=3) == "musicgen generate --seed 3 --bars 8 --mood-level 3"


def test_widget_values_become_the_options_the_command_line_would_parse() -> None:
    options = forms.options_from(GenerationOptions, {"bars": 8.0, "num": 2.0, "seed": "", "tempo": "96",
                                                     "key": "D minor", "temperature": None, "program": "0"})
    assert (options.bars, options.num, options.seed, options.tempo, options.key) == (8.0, 2, None, 96.0, "D minor")
    assert options.temperature == 1.0 and options.program == 0  # empty: the default; 0 is a program
    with pytest.raises(ConfigError, match=r"--seed must be an integer, got '1\.5'"):
        forms.options_from(GenerationOptions, {"seed": "1.5"})
    with pytest.raises(ConfigError, match="--temperature must be >= 0"):
        forms.options_from(GenerationOptions, {"temperature": -1})
    with pytest.raises(ConfigError, match="infill needs the bars"):
        forms.options_from(InfillOptions, {"bars": ""})
    form = forms.options_from(GenerationOptions, {"bars": 8.0, "form": "A4 B4 A4"})
    assert (form.form, form.bars) == ("A4 B4 A4", None)  # a form sets the bars: the page's 8 gives way
    command = forms.command_line(options, "checkpoints/my model", seed=42)
    assert shlex.split(command) == ["musicgen", "generate", "--checkpoint", "checkpoints/my model", "--seed", "42",
                                    "--num", "2", "--bars", "8", "--key", "D minor", "--tempo", "96",
                                    "--program", "0"]


# -- the model side: the same files as the command line, errors as the command line gives them ----------------


def test_a_piece_made_in_the_studio_is_made_again_by_its_command(studio, tiny: Path, tmp_path: Path,
                                                                  capsys) -> None:
    options = forms.options_from(GenerationOptions, {"bars": 2, "instruments": "piano,bass"})
    steps = []
    (take,) = studio.make("generate", options, progress=lambda fraction, message: steps.append(message))
    assert any(step.startswith("sampling 1 piece of 2 bars") for step in steps)
    assert re.fullmatch(rf"tiny-\d{{8}}-\d{{6}}-seed{take.seed}-01\.mid", take.midi.name)  # as the CLI names it
    assert f"Seed **{take.seed}**" in take.details() and take.roll.read_bytes()[:4] == b"\x89PNG"
    words = shlex.split(take.command)
    assert words[:2] == ["musicgen", "generate"] and ["--seed", str(take.seed)] == words[words.index("--seed"):][:2]
    assert main([*words[1:], "--out", str(tmp_path)]) == 0
    (again,) = tmp_path.glob("*.mid")
    assert again.read_bytes() == take.midi.read_bytes()
    capsys.readouterr()
    (filled,) = studio.make("infill", forms.options_from(InfillOptions, {"bars": "1-1"}), file=str(take.midi),
                            number=2)
    assert filled.number == 2 and filled.region == (1, 1) and "-infill-" in filled.midi.name
    (band,) = studio.make("accompany", forms.options_from(forms.AccompanyOptions, {"instruments": "flute"}),
                          file=str(take.midi))
    assert "-accompanied-" in band.midi.name and "1 new tracks (Flute)" in band.summary
    for edit in (filled, band):
        assert main([*shlex.split(edit.command)[1:], "--out", str(tmp_path / edit.action)]) == 0
        assert next((tmp_path / edit.action).glob("*.mid")).read_bytes() == edit.midi.read_bytes()


def test_an_unreadable_file_gives_the_command_lines_one_line_error(studio, tiny: Path, tmp_path: Path,
                                                                   capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    from musicgen.errors import MusicgenError
    from musicgen.studio.engine import error_line

    uploads = tmp_path / "upload-7f3a"  # where the page's upload lands: another folder than the user's
    uploads.mkdir()
    (uploads / "song.mid").write_bytes(b"MThd not really a MIDI file")
    (tmp_path / "song.mid").write_bytes(b"MThd not really a MIDI file")
    monkeypatch.chdir(tmp_path)
    assert main(["infill", "song.mid", "--bars", "1-2", "--checkpoint", str(tiny)]) == 2
    expected = capsys.readouterr().err.strip()
    with pytest.raises(MusicgenError) as raised:
        studio.make("infill", forms.options_from(InfillOptions, {"bars": "1-2"}), file=str(uploads / "song.mid"))
    assert error_line("infill", raised.value, str(uploads / "song.mid")) == expected
    assert expected.startswith("musicgen infill: error: song.mid: ") and "\n" not in expected
    with pytest.raises(ConfigError, match="upload a MIDI, MusicXML or ABC file"):
        studio.make("accompany", forms.options_from(forms.AccompanyOptions, {"instruments": "bass"}))


def test_two_requests_at_once_each_get_their_own_piece(studio) -> None:
    found: dict[int, list] = {}

    def ask(seed: int) -> None:
        found[seed] = studio.make("generate", forms.options_from(GenerationOptions, {"bars": 1, "seed": seed}))

    threads = [threading.Thread(target=ask, args=(seed,)) for seed in (11, 12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert {seed: [take.seed for take in takes] for seed, takes in found.items()} == {11: [11], 12: [12]}
    assert found[11][0].midi != found[12][0].midi and len(studio._sessions) == 1


# -- what the page shows of a piece --------------------------------------------------------------------------


def test_the_piano_roll_numbers_bars_and_marks_chords_sections_and_the_edited_bars(tmp_path: Path) -> None:
    from musicgen.music import midi_io, render
    from musicgen.music.piece import Piece, Track
    from musicgen.studio.pianoroll import roll_figure

    notes = [(beat, beat + 1.0, 60.0 + beat % 12, 80.0, 0.0) for beat in range(16)]
    piece = Piece(notes=np.array(notes), tracks=(Track(program=0, name="Keys"),),
                  chords=((0.0, 0), (8.0, 5 * 12)), markers=((0.0, "verse"), (8.0, "chorus")))
    render.write_midi(midi_io.piece_to_midi(piece), tmp_path / "song.mid")
    figure = roll_figure(tmp_path / "song.mid", piece, (3, 4))
    axes, bars = figure.axes
    texts = [text.get_text().strip() for text in axes.texts]
    assert texts == ["C", "F", "verse", "chorus"]
    chorus = axes.texts[-1].get_position()[0]
    assert chorus == pytest.approx(4.0)  # beat 8 at 120 BPM
    assert [label.get_text() for label in bars.get_xticklabels()] == ["1", "2", "3", "4"]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["bars 3-4", "Keys"]


def test_without_a_soundfont_the_page_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from musicgen.music import render
    from musicgen.studio import engine

    monkeypatch.delenv(render.SOUNDFONT_ENVIRONMENT, raising=False)
    monkeypatch.setattr(render, "SOUNDFONT_LOCATIONS", ())
    assert engine.audio_support() == (None, engine.SOUNDFONT_HINT)
    assert "apt install fluidsynth fluid-soundfont-gm" in engine.SOUNDFONT_HINT
    soundfont, hint = engine.audio_support(str(tmp_path / "missing.sf2"))
    assert soundfont is None and "missing.sf2" in hint


def test_the_command_starts_without_gradio_or_tensorflow_and_says_how_to_install_gradio(
        monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    code = ("import sys; from musicgen.cli import build_parser; build_parser().parse_args(['studio', '--port', '1']); "
            "print('gradio' in sys.modules, 'tensorflow' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False False"
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if it were not installed
    assert main(["studio", "--port", "1"]) == 2
    assert capsys.readouterr().err.strip().endswith("pip install -e \".[studio]\"")


def test_a_taken_port_is_a_one_line_error_before_the_model_loads(capsys) -> None:
    pytest.importorskip("gradio", reason="the studio needs Gradio: pip install -e '.[studio]'")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["studio", "--port", str(port), "--checkpoint", "no/such/checkpoint"]) == 2
    assert capsys.readouterr().err.strip() == (f"musicgen studio: error: cannot listen on 127.0.0.1:{port}: "
                                               "Address already in use (choose another with --port)")


# -- a real browser on a started `musicgen studio` ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_studio(checkpoint: str, out: Path, *arguments: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``musicgen studio`` started as a user starts it, until the block ends: its address and process."""
    pytest.importorskip("gradio", reason="the studio needs Gradio: pip install -e '.[studio]'")
    process = subprocess.Popen([sys.executable, "-m", "musicgen", "studio", "--checkpoint", checkpoint,
                                "--port", str(_free_port()), "--out", str(out), *arguments],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    seen, url, deadline = [], None, time.monotonic() + 300
    while url is None and time.monotonic() < deadline and process.poll() is None:
        try:
            seen.append(lines.get(timeout=1))
        except queue.Empty:
            continue
        found = re.search(r"open (http://\S+) in a browser", seen[-1])
        url = found.group(1) if found else None
    try:
        assert url is not None, "musicgen studio did not start:\n" + "".join(seen)
        assert url.startswith("http://127.0.0.1:")  # localhost only by default
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def server(tiny: Path, tmp_path_factory: pytest.TempPathFactory):
    """The studio on the tiny model (or on $MUSICGEN_STUDIO_CHECKPOINT): address, process, folder."""
    out = tmp_path_factory.mktemp("studio-pages")
    with running_studio(CHECKPOINT or str(tiny), out) as (url, process):
        yield url, process, out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """Headless Chromium driven by Selenium, or a skip that says what is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="no browser driver: pip install selenium")
    from selenium.common.exceptions import WebDriverException

    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    chromedriver = shutil.which("chromedriver")
    if chromium is None or chromedriver is None:
        pytest.skip("no browser to drive: install Debian's chromium and chromium-driver (.ci/run does, as root)")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager downloads nothing
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                     "--window-size=1400,1700", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    try:
        driver = webdriver.Chrome(service=webdriver.ChromeService(chromedriver), options=options)
    except WebDriverException as error:
        pytest.skip(f"Chromium did not start: {str(error).strip().splitlines()[0]}")
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout: float = 120.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda _: condition())


def _css(driver, selector: str) -> list:
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def _button(driver, label: str):
    from selenium.webdriver.common.by import By

    return _wait(driver, lambda: next(iter(driver.find_elements(By.XPATH, f"//button[normalize-space()='{label}']")),
                                      None))


def _tab(driver, name: str):
    """The tab button ``new`` or ``file`` (Gradio also keeps hidden copies for its overflow menu)."""
    return _wait(driver, lambda: next(iter(_css(driver, f"button[role=tab][data-tab-id={name}]")), None))


def _type(driver, selector: str, text: str) -> None:
    from selenium.webdriver.common.keys import Keys

    field = _wait(driver, lambda: next(iter(_css(driver, selector)), None))
    field.send_keys(Keys.CONTROL, "a")  # typed over, as a person does: clear() fires no input event
    field.send_keys(Keys.BACKSPACE, text)


def _open(driver, url: str) -> None:
    driver.get(url)
    _button(driver, "Generate")


def _roll_shown(driver) -> str | None:
    """The piano roll's address once its image has loaded."""
    return driver.execute_script(
        "const image = document.querySelector('#studio-roll img');"
        "return image && image.complete && image.naturalWidth > 0 ? image.src : null;")


def _text(driver, selector: str) -> str:
    return " ".join(element.text for element in _css(driver, selector)).strip()


def _uploaded(driver) -> str:
    """The name of the file in the upload box ("" for none)."""
    return " ".join(link.get_attribute("download") or "" for link in _css(driver, "#studio-upload a[download]"))


def _fetch(url: str) -> bytes:
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def _hosts(driver) -> set[str]:
    """Every host the page sent a request to or opened a socket with (documents, scripts, fonts,
    fetches, media, websockets)."""
    hosts = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            url = message["params"]["request"]["url"]
        elif message["method"] == "Network.webSocketCreated":
            url = message["params"]["url"]
        else:
            continue
        if re.match(r"(https?|wss?)://", url):
            hosts.add(url.split("/")[2])
    return hosts


def test_generate_in_a_browser_shows_the_piano_roll_the_audio_and_the_midi(browser, server, tmp_path: Path) -> None:
    from musicgen.studio.engine import audio_support

    url, process, out = server
    _open(browser, url)
    _button(browser, "Generate").click()
    roll = _wait(browser, lambda: _roll_shown(browser))
    assert _fetch(roll)[:4] == b"\x89PNG"
    link = _wait(browser, lambda: next(iter(_css(browser, "#studio-midi a[download]")), None))
    name = link.get_attribute("download")
    stem = Path(CHECKPOINT).name if CHECKPOINT else "tiny"
    seed = re.fullmatch(rf"{stem}-\d{{8}}-\d{{6}}-seed(\d+)-01\.mid", name).group(1)  # as the command line names it
    assert _fetch(link.get_attribute("href")) == (out / name).read_bytes() and (out / name).read_bytes()[:4] == b"MThd"
    details = _text(browser, "#studio-details")
    assert f"Seed {seed}" in details and f"--seed {seed}" in details and "musicgen generate" in details
    soundfont, hint = audio_support()
    if soundfont is not None:
        audio = _wait(browser, lambda: browser.execute_script(
            "return [...document.querySelectorAll('#studio-audio audio')].map(a => a.src).find(s => s.endsWith('.wav'));"))
        assert _fetch(audio)[:4] == b"RIFF"
    else:
        assert hint.split(":")[0] in _text(browser, "#studio-audio")
    browser.save_screenshot(str(tmp_path / "studio.png"))
    if SCREENSHOT:
        shutil.copyfile(tmp_path / "studio.png", SCREENSHOT)
    assert _hosts(browser) == {url.split("/")[2]}  # nothing fetched from anywhere else
    assert process.poll() is None


def test_a_corrupt_upload_shows_the_one_line_error_and_the_server_goes_on(browser, server, tiny: Path, tmp_path: Path,
                                                                         capsys, monkeypatch) -> None:
    url, process, _ = server
    (tmp_path / "broken.mid").write_bytes(b"MThd\x00\x00\x00\x06 cut short")
    monkeypatch.chdir(tmp_path)
    assert main(["infill", "broken.mid", "--bars", "1-2", "--checkpoint", str(tiny)]) == 2
    expected = capsys.readouterr().err.strip()
    _open(browser, url)
    _tab(browser, "file").click()
    upload = _wait(browser, lambda: next(iter(_css(browser, "#studio-upload input[type=file]")), None))
    upload.send_keys(str(tmp_path / "broken.mid"))
    _wait(browser, lambda: _uploaded(browser) == "broken.mid")
    _type(browser, "#studio-infill-bars textarea", "1-2")
    _button(browser, "Infill").click()
    _wait(browser, lambda: _text(browser, "#studio-error"))
    assert _text(browser, "#studio-error") == expected
    assert process.poll() is None  # the server keeps running, and still makes music
    _tab(browser, "new").click()
    _button(browser, "Generate").click()
    _wait(browser, lambda: _roll_shown(browser) and not _text(browser, "#studio-error"))


def _set_seed(driver, seed: int) -> None:
    from selenium.webdriver.common.by import By

    if not _css(driver, "#studio-sampling-seed textarea"):  # the accordion is closed
        driver.find_element(By.XPATH, "//button[starts-with(normalize-space(), 'Sampling')]").click()
    _type(driver, "#studio-sampling-seed textarea", str(seed))


def _generate_with_seed(driver, seed: int) -> None:
    _set_seed(driver, seed)
    _button(driver, "Generate").click()


def test_two_tabs_get_their_own_pieces_and_the_history_replays_and_continues(browser, server) -> None:
    url, _, _ = server
    _open(browser, url)
    first = browser.current_window_handle
    browser.switch_to.new_window("tab")
    second = browser.current_window_handle
    _open(browser, url)
    _generate_with_seed(browser, 12)
    browser.switch_to.window(first)
    _generate_with_seed(browser, 11)
    for window, seed in ((first, 11), (second, 12)):
        browser.switch_to.window(window)
        _wait(browser, lambda seed=seed: f"Seed {seed}" in _text(browser, "#studio-details"))
        assert re.findall(r"#\d+ generate, seed \d+", _text(browser, "#studio-history")) == [f"#1 generate, seed {seed}"]
    browser.switch_to.window(second)
    browser.close()
    browser.switch_to.window(first)
    _generate_with_seed(browser, 13)
    _wait(browser, lambda: "Seed 13" in _text(browser, "#studio-details"))
    next(label for label in _css(browser, "#studio-history label") if "seed 11" in label.text).click()
    _wait(browser, lambda: "Seed 11" in _text(browser, "#studio-details"))
    _button(browser, "Use its settings").click()  # its seed back in the seed box
    _wait(browser, lambda: _css(browser, "#studio-sampling-seed textarea")[0].get_attribute("value") == "11")
    _button(browser, "Continue from this").click()
    _wait(browser, lambda: _uploaded(browser).endswith("-seed11-01.mid"))
    _button(browser, "Continue").click()
    _wait(browser, lambda: "#3 continue" in _text(browser, "#studio-details"))
    assert "--primer" in _text(browser, "#studio-details")


@pytest.mark.skipif(not os.environ.get("MUSICGEN_STUDIO_BENCH"),
                    reason="a benchmark of minutes on the base model: set MUSICGEN_STUDIO_BENCH=1 to run it")
def test_time_from_pressing_generate_to_the_piano_roll(browser, tmp_path: Path) -> None:
    """Press Generate (8 bars, the page's default) and wait for the piano roll, against
    ``musicgen generate --bars 8`` of the same seed, turn about; the same file both ways."""
    from musicgen import paths

    checkpoint = CHECKPOINT or str(paths.BASE_CHECKPOINT)
    seeds = range(1, 1 + int(os.environ.get("MUSICGEN_STUDIO_BENCH_REPEATS", "3")))
    figures: dict[str, list[float]] = {"page": [], "cli": [], "page_first_press_without_warm_up": []}
    started = time.monotonic()
    with running_studio(checkpoint, tmp_path / "cold", "--no-warm-up") as (url, _):
        figures["studio_start_without_warm_up"] = [time.monotonic() - started]
        _open(browser, url)
        figures["page_first_press_without_warm_up"].append(_press_generate(browser, 1))
    started = time.monotonic()
    with running_studio(checkpoint, tmp_path / "page") as (url, _):
        figures["studio_start"] = [time.monotonic() - started]
        _open(browser, url)
        for seed in seeds:
            started = time.monotonic()
            subprocess.run([sys.executable, "-m", "musicgen", "generate", "--checkpoint", checkpoint, "--bars", "8",
                            "--seed", str(seed), "--out", str(tmp_path / "cli" / str(seed))], check=True,
                           capture_output=True)
            figures["cli"].append(time.monotonic() - started)
            figures["page"].append(_press_generate(browser, seed))
            (made,) = (tmp_path / "page").glob(f"*-seed{seed}-01.mid")
            assert made.read_bytes() == next((tmp_path / "cli" / str(seed)).glob("*.mid")).read_bytes()
    median = {name: float(np.median(values)) for name, values in figures.items()}
    print(json.dumps({"checkpoint": checkpoint, "seconds": figures, "median": median,
                      "ratio_page_to_cli": median["page"] / median["cli"]}, indent=1))
    assert median["page"] <= 1.5 * median["cli"]


def _press_generate(driver, seed: int) -> float:
    """Seconds from pressing Generate with ``seed`` to that piece's piano roll on screen."""
    before = _roll_shown(driver)
    _set_seed(driver, seed)
    button = _button(driver, "Generate")
    started = time.monotonic()
    button.click()
    _wait(driver, lambda: f"-seed{seed}-" in (_roll_shown(driver) or "") and _roll_shown(driver) != before, 600)
    return time.monotonic() - started
