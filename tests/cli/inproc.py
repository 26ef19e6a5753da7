"""``lstmkit ARGS`` run in the test's own process (no interpreter start-up): for CLI tests that
train tiny models many times."""

from __future__ import annotations

import contextlib
import io
import logging
from types import SimpleNamespace

from lstmkit.cli.main import main


def lstmkit_cli(*args, logs: bool = False) -> SimpleNamespace:
    """``lstmkit ARGS`` in this process: exit code, stdout and stderr. ``logs``: the log lines
    that the real command shows on stderr are in ``stderr`` too (the CLI's basicConfig does
    nothing inside pytest, which holds the root logger's handlers)."""
    out, err = io.StringIO(), io.StringIO()
    root, handler = logging.getLogger(), logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(message)s"))
    level = root.level
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        if logs:
            root.addHandler(handler)
            root.setLevel(logging.INFO)
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse: usage errors
            code = e.code
        finally:
            root.removeHandler(handler)
            root.setLevel(level)
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())
