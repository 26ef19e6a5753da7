"""The command line says what it does: every default in --help is the one the code applies,
every estimator option has a flag, every subcommand and positional argument is described, and
mistakes around output files and interruptions end in one line that says what to do."""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from lstmkit import Classifier, Forecaster, TextGenerator
from lstmkit.cli.args import estimator_defaults
from lstmkit.cli.main import build_parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _all_parsers():
    """(name, parser, help line) of every subcommand, nested ones included."""
    top = build_parser()
    out = []
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, p in action.choices.items():
                out.append((name, p, helps.get(name)))
                for action2 in p._actions:
                    if isinstance(action2, argparse._SubParsersAction):
                        helps2 = {a.dest: a.help for a in action2._choices_actions}
                        out += [
                            (f"{name} {n}", q, helps2.get(n)) for n, q in action2.choices.items()
                        ]
    return out


def test_every_subcommand_and_positional_is_described():
    parsers = _all_parsers()
    names = {n for n, *_ in parsers}
    assert {"train classify", "train forecast", "train textgen", "predict", "evaluate",
            "extract", "resume", "export", "serve", "inspect", "generate"} <= names  # fmt: skip
    for name, p, help_line in parsers:
        assert help_line, f"{name} has no help line"
        assert p.description, f"{name} has no description"
        for action in p._actions:
            if not action.option_strings and not isinstance(action, argparse._SubParsersAction):
                assert action.help, f"{name}: positional {action.dest} has no help"
        assert "seed 00" not in p.format_help(), f"{name} --help speaks of the seed documents"


@pytest.mark.parametrize(
    "task, estimator",
    [("classify", Classifier), ("forecast", Forecaster), ("textgen", TextGenerator)],
)
def test_every_option_has_a_flag_whose_help_shows_its_default(task, estimator):
    parser = _subparsers(_subparsers(build_parser())["train"])[task]
    dests = {a.dest: a for a in parser._actions}
    defaults = estimator_defaults(estimator)
    missing = sorted(set(defaults) - set(dests) - {"verbose"})  # -v is the log level
    assert not missing, f"train {task}: options without a flag: {missing}"
    for name, value in defaults.items():
        if name == "verbose" or value is None or isinstance(value, bool | tuple):
            continue
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        assert re.search(rf"\(default {re.escape(shown)}[):]", dests[name].help), (name, value)


def test_help_states_the_defaults_that_apply():
    help_text = " ".join(_subparsers(_subparsers(build_parser())["train"])["forecast"]
                         .format_help().split())  # fmt: skip
    # airline (144 monthly rows) runs with a look-back of one season, as the help says
    assert "(default one season (two when the series has 1,000 rows or more)" in help_text
    help_text = " ".join(_subparsers(_subparsers(build_parser())["train"])["classify"]
                         .format_help().split())  # fmt: skip
    assert "(default 8, more for small data: --min-steps)" in help_text
    assert Classifier().epochs_for(10_000) == 8 and Classifier().epochs_for(40) > 8
    from lstmkit.estimators._forecast_parts import window_sizes

    assert window_sizes(Forecaster(), 12, 144) == (12, 12)  # one season back, one ahead


def test_output_into_a_missing_folder_fails_and_writes_nothing(tiny_runs, tmp_path, cli_main):
    import numpy as np

    X = np.zeros((2, 8, 8), dtype=np.float32)
    np.savez(tmp_path / "x.npz", X=X)
    code, _, err = cli_main("predict", tiny_runs.classify, "--input", tmp_path / "x.npz",
                            "--output", tmp_path / "nowhere" / "pred.csv")  # fmt: skip
    assert code == 1 and "does not exist; create it" in err
    assert not (tmp_path / "nowhere").exists()


def test_ctrl_c_after_a_checkpoint_says_how_to_resume(tmp_path):
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "lstmkit",
        "train",
        "classify",
        "--arch",
        "encoder",
        "--data",
        "digits",
        "--epochs",
        "200",
        "--hidden",
        "8",
        "--layers",
        "1",
        "--conv-channels",
        "0",
        "--out",
        str(out),
    ]

    # a process inherits an ignored SIGINT (earlier tests' torchrun launchers leave pytest's
    # SIGINT ignored): start the run as a terminal would, with Ctrl-C at its default
    def default_sigint() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ | {"OMP_NUM_THREADS": "1"},
                            preexec_fn=default_sigint)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (out / "checkpoint.pt").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert (
        err.strip().splitlines()[-1] == f"lstmkit: interrupted; continue with: lstmkit resume {out}"
    )
    assert "Traceback" not in err
