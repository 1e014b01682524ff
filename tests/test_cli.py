"""The command line's shared behaviour."""

from __future__ import annotations

import subprocess
import sys

import pytest

from musicgen.cli import COMMANDS, build_parser, main


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: musicgen" in capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command: str) -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as exit_info:
        parser.parse_args([command, "--help"])
    assert exit_info.value.code == 0


def test_python_dash_m_runs_without_tensorflow_chatter() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "musicgen", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("musicgen ")
    assert result.stderr == ""
