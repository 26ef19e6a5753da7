"""The ``textgen`` pipeline: load text, split it in order, train a TextGenerator, evaluate, write.

The text is cut by position, never shuffled: the first part trains (its last ``val_fraction``
validates), the last ``test_fraction`` is the test part. config.json (``data`` and ``options``) is
written before training, so ``lstmkit resume`` repeats the same preparation and continues.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from lstmkit.data.text import load_text, split_text
from lstmkit.estimators.textgen import TextGenerator
from lstmkit.runs import merge_config, read_config
from lstmkit.train import distributed
from lstmkit.train.checkpoint import atomic_write_json, atomic_write_text
from lstmkit.train.trainer import EpochCallback
from lstmkit.viz import plot_loss

__all__ = ["SAMPLE_TEMPERATURES", "evaluate_run", "load_parts", "run_textgen", "write_samples"]

log = logging.getLogger(__name__)

SAMPLE_TEMPERATURES = (0.5, 0.8, 1.0)
_SAMPLE_LENGTH = {"char": 400, "word": 80}


def load_parts(data: dict) -> tuple[str, str]:
    """(training text, test text) of a run's ``data`` section: the last ``test_fraction`` of the
    text (cut at a line start) is the test part."""
    text = load_text(data["source"])
    fraction = data.get("test_fraction", 0.05)
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {fraction}")
    train, test = split_text(text, (1 - fraction, fraction))
    return train, test


def run_textgen(data: dict | str, options: dict, run_dir: str | Path, *, resume: bool = False,
                progress: bool = False,
                callbacks: Sequence[EpochCallback] = ()) -> dict:  # fmt: skip
    """Train (or resume) and evaluate; returns the flat metrics written to metrics.json.

    ``data``: ``{"source": "kjv" | "file.txt", "test_fraction": 0.05}`` (a bare source is fine).
    ``callbacks``: the Trainer's ``on_epoch_end(epoch, record)`` hooks (``lstmkit tune``).
    In a data-parallel run every process trains, rank 0 alone writes; the others return ``{}``.
    """
    run_dir = Path(run_dir)
    if isinstance(data, str):
        data = {"source": data}
    data = {"test_fraction": 0.05} | data
    TextGenerator(**options).check_options()  # every option checked before anything is written
    train_text, test_text = distributed.main_first(lambda: load_parts(data))
    world = distributed.world_size()
    if distributed.is_main() and not resume:
        config = {"task": "textgen", "data": data, "options": options, "world_size": world}
        atomic_write_json(run_dir / "config.json", config)
    elif distributed.is_main():
        merge_config(run_dir, {"world_size": world})
    t0 = time.perf_counter()
    gen = TextGenerator(**options).fit(train_text, run_dir=run_dir, progress=progress,
                                       resume=resume, callbacks=callbacks)  # fmt: skip
    log.info("trained in %.1f s", time.perf_counter() - t0)
    if not distributed.is_main():
        return {}
    level = gen.level
    test = gen.evaluate(test_text)
    best = gen.history_[gen.best_epoch_ - 1] if gen.best_epoch_ else {}
    metrics = {
        "task": "textgen",
        "epochs_run": len(gen.history_),
        "train_seconds": round(gen.train_seconds_, 3),
        "params": sum(p.numel() for p in gen.model_.parameters()),
        "world_size": world,
        "level": level,
    }
    if level == "char":
        metrics["test_bpc"] = round(test["bpc"], 6)
    else:
        metrics["test_perplexity"] = round(test["perplexity"], 6)
    metrics["test_loss"] = round(test["loss"], 6)
    for key in ("val_loss", "val_bpc", "val_perplexity"):
        if key in best:
            metrics[key] = round(best[key], 6)
    metrics |= {
        "best_epoch": gen.best_epoch_,
        "clipped_steps": gen.clipped_steps_,
        "vocab_size": len(gen.tokenizer_),
        "test_tokens": test["tokens"],
        "train_chars": len(train_text),
        "test_chars": len(test_text),
    }
    atomic_write_json(run_dir / "metrics.json", metrics)
    write_samples(gen, run_dir / "samples.txt", seed=gen.train_config_.seed)
    plot_loss(gen.history_, run_dir / "loss.png", title=f"textgen {data['source']} ({level})")
    return metrics


def write_samples(gen: TextGenerator, path: str | Path, seed: int = 0, prompt: str = "") -> str:
    """A sample at each of ``SAMPLE_TEMPERATURES``, headed by the settings that reproduce it."""
    length = _SAMPLE_LENGTH[gen.level]
    blocks = []
    for i, temperature in enumerate(SAMPLE_TEMPERATURES):
        s = seed + i
        text = gen.generate(prompt, length=length, temperature=temperature, seed=s)
        head = (f"# temperature {temperature}, seed {s}, length {length} {gen.level}s, prompt "
                f"{prompt!r}  (lstmkit generate RUN_DIR --temperature {temperature} --seed {s} "
                f"--length {length})")  # fmt: skip
        blocks.append(f"{head}\n{text}" + ("" if text.endswith("\n") else "\n"))
    out = "\n".join(blocks)
    atomic_write_text(path, out)
    return out


def evaluate_run(
    run_dir: str | Path, source: str | None = None, *, estimator: TextGenerator | None = None
) -> dict:
    """Metrics of a trained textgen run on its own test part, or on all of ``source`` (a text
    file or built-in name). ``estimator``: score this one instead of the run's own."""
    config = read_config(run_dir)
    gen = TextGenerator.load(run_dir) if estimator is None else estimator
    text = load_parts(config["data"])[1] if source is None else load_text(source)
    m = gen.evaluate(text)
    key = "test_bpc" if gen.level == "char" else "test_perplexity"
    metric = m["bpc"] if gen.level == "char" else m["perplexity"]
    return {"task": "textgen", key: round(metric, 6), "test_loss": round(m["loss"], 6),
            "test_tokens": m["tokens"]}  # fmt: skip
