"""``lstmkit ARGS`` run in the test's own process (no interpreter start-up): for CLI tests that
train tiny models many times."""

from __future__ import annotations

import contextlib
import io
from types import SimpleNamespace

from lstmkit.cli.main import main


def lstmkit_cli(*args) -> SimpleNamespace:
    """``lstmkit ARGS`` in this process: exit code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse: usage errors
            code = e.code
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())
