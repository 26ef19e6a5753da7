"""examples/seed_002_fashion_mnist.py: the seed's script with one import changed.

Run on small Fashion-MNIST-shaped IDX files (class-dependent stripes, so a short training
learns something): with the seed's own arguments lstmkit.nn.LSTM starts from the same weights
as torch.nn.LSTM and trains to the same accuracy, step for step; ``--cell layernorm`` trains too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstmkit.data.builtin import IDX_FILES
from lstmkit.data.idx import write_idx

SCRIPT = Path(__file__).parents[2] / "examples" / "seed_002_fashion_mnist.py"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    folder = root / "fashion-mnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for split, n in (("train", 1000), ("test", 200)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
        for k, y in enumerate(labels):
            images[k, 2 * y + 4 : 2 * y + 6] += 200  # bright rows placed by the class
        images_name, labels_name = IDX_FILES[split]
        write_idx(folder / images_name, images)
        write_idx(folder / labels_name, labels)
    return root


def _run(data_dir: Path, tmp_path: Path, *flags: str) -> dict:
    out = tmp_path / f"summary{len(list(tmp_path.iterdir()))}.json"
    env = dict(os.environ, LSTMKIT_DATA=str(data_dir))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--epochs", "3", "--out", str(out), *flags],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Accuracy of the model on the test images" in result.stdout
    return json.loads(out.read_text())


def test_one_import_changed_trains_as_torch(data_dir, tmp_path) -> None:
    theirs = _run(data_dir, tmp_path, "--lstm", "torch")
    ours = _run(data_dir, tmp_path)
    assert theirs["lstm"] == "torch.nn.modules.rnn.LSTM" and ours["lstm"] == "lstmkit.nn.lstm.LSTM"
    assert ours["test_accuracy"] == theirs["test_accuracy"] > 0.4  # chance is 0.1
    layernorm = _run(data_dir, tmp_path, "--cell", "layernorm")
    assert layernorm["cell"] == "layernorm" and layernorm["test_accuracy"] > 0.4
