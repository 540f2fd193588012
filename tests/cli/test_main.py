"""The `maerad` entry point: sub-commands, usage errors and the MaeradError → exit 2 contract."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from maerad import __version__
from maerad.cli import main as cli_main
from maerad.errors import InputError


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli_main.main(["--version"])
    assert info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_every_listed_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = cli_main.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    # each module registers the command of its name (underscores become dashes)
    assert set(sub.choices) == {m.replace("_", "-") for m in cli_main._COMMAND_MODULES}
    for name in sub.choices:
        with pytest.raises(SystemExit) as info:
            cli_main.main([name, "--help"])
        assert info.value.code == 0
    assert "usage: maerad" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["no-such-command"], ["info"], ["stage", "--system"]])
def test_usage_errors_exit_2_with_one_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli_main.main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("maerad")


def test_maerad_error_becomes_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def boom(args: argparse.Namespace) -> int:
        raise InputError("scan.dcm: file is truncated\n(at byte 1234)")

    parser = cli_main.build_parser()
    monkeypatch.setattr(cli_main, "build_parser", lambda: parser)
    ns = parser.parse_args(["info", "x"])
    monkeypatch.setattr(
        parser, "parse_args", lambda argv=None: argparse.Namespace(**{**vars(ns), "func": boom})
    )
    assert cli_main.main(["info", "x"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "maerad: error: scan.dcm: file is truncated (at byte 1234)\n"


def test_console_script_runs_as_module() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "maerad.cli.main", "--version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"maerad {__version__}"


def test_ctrl_c_while_the_parser_is_built_is_one_line_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted() -> argparse.ArgumentParser:
        raise KeyboardInterrupt  # the user presses Ctrl-C while the sub-commands are imported

    monkeypatch.setattr(cli_main, "build_parser", interrupted)
    assert cli_main.main(["pretrain", "--help"]) == 130
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "maerad: interrupted\n"


def test_building_the_parser_leaves_the_phantom_and_matplotlib_unloaded() -> None:
    # the phantom package pulls in matplotlib (about a second): only a command that uses it loads it
    code = ("import sys; from maerad.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('maerad.data.phantom', 'matplotlib') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_train_lesion_help_still_lists_the_default_lesion_labels(capsys: pytest.CaptureFixture[str]) -> None:
    from maerad.cli.train_lesion import default_lesion_labels

    with pytest.raises(SystemExit) as info:
        cli_main.main(["train-lesion", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    labels = ",".join(map(str, default_lesion_labels()))
    assert labels and f"the phantom's lesion labels, {labels})" in text
