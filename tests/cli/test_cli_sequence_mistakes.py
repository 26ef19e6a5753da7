"""The bad inputs of classify and regress that issue 14 names: a float y for classify, a string
y for regress (each error names the task that fits), a single class, test classes unseen in
training, lengths beyond the padded length. One line on stderr, exit 1, nothing written."""

from __future__ import annotations

import numpy as np
import pytest

FAST = [
    "--arch",
    "encoder",
    "--hidden",
    "8",
    "--layers",
    "1",
    "--epochs",
    "1",
    "--conv-channels",
    "0",
]


def _npz(path, y, X=None, **extra):
    X = np.random.default_rng(0).normal(size=(len(y), 6, 2)) if X is None else X
    np.savez(path, X=X, y=np.asarray(y), **extra)
    return path


@pytest.fixture
def files(tmp_path):
    f = {
        "float_y": _npz(tmp_path / "float_y.npz", np.linspace(0.5, 9.5, 20)),
        "string_y": _npz(tmp_path / "string_y.npz", np.array(["a", "b"] * 10)),
        "one_class": _npz(tmp_path / "one_class.npz", np.zeros(20, np.int64)),
        "two_classes": _npz(tmp_path / "two.npz", np.arange(20) % 2),
        "three_classes": _npz(tmp_path / "three.npz", np.arange(20) % 3),
        "long_lengths": _npz(
            tmp_path / "long.npz", np.arange(20) % 2, lengths=np.r_[9, np.full(19, 6)]
        ),
    }
    ts = tmp_path / "target.ts"
    ts.write_text("@problemName t\n@targetLabel true\n@data\n1,2,3:0.5\n4,5,6:1.5\n")
    f["target_ts"] = ts
    return f


CASES = [
    (["classify", "--data", "float_y"], "numeric target per sequence use lstmkit train regress"),
    (["classify", "--data", "target_ts"], "use lstmkit train regress"),
    (["regress", "--data", "string_y"], "for class labels use lstmkit train classify"),
    (["regress", "--data", "ucr:GunPoint"], "use lstmkit train classify"),
    (["classify", "--data", "one_class"], "at least 2 classes"),
    (["classify", "--data", "two_classes", "--test-data", "three_classes"],
     "do not occur in the training data"),
    (["classify", "--data", "long_lengths"], "lengths must lie in 1..6"),
    (["regress", "--data", "long_lengths"], "lengths must lie in 1..6"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "needle"), CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_one_line_error_exit_1_nothing_written(files, tmp_path, cli_main, args, needle):
    args = [str(files.get(a, a)) for a in args]
    out = tmp_path / "out"
    code, _, err = cli_main("train", *args, "--out", out, *FAST)
    lines = err.strip().splitlines()
    assert code == 1, err
    assert "Traceback" not in err and len([x for x in lines if "error" in x]) == 1, err
    assert needle in lines[-1], err
    assert not out.exists()
