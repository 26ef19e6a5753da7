"""``inspect_run``: the figures, ``summary.json`` and ``index.html`` for chosen samples of a run.

For each chosen sample the model runs once, recorded and probed (``analysis.analyse``); per
recurrent layer it gets a gate figure and a state figure, per sample a gradient-norm figure and a
saliency figure, and for all samples together a forget-gate saturation figure.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmkit.inspect.analysis import LOSSES, Analysis, analyse
from lstmkit.inspect.inputs import INPUTS, Sample
from lstmkit.inspect.page import write_index
from lstmkit.inspect.stats import forget_stats, keep_gate
from lstmkit.nn.recording import Recording

__all__ = ["CAPTIONS", "Figure", "Report", "inspect_run"]

log = logging.getLogger(__name__)

CAPTIONS = {
    "gates": "Gate activations per unit (rows) and step (columns). Sigmoid gates share the "
    "scale 0..1 (bright: open), the candidate g (GRU: n) -1..1. A forget-gate row that stays "
    "bright keeps its cell's memory across steps; a column where the input gate lights up is a "
    "step the layer writes into memory.",
    "states": "Cell state c per unit and step (GRU: the hidden state), and the trajectories of "
    "the units whose state moves furthest. c adds up over time and can leave -1..1; h = "
    "o * tanh(c) is what the next layer and the head read.",
    "gradnorm": "How strongly the loss reaches back to each step: ||dLoss/dh_t||, through every "
    "path (the layers above and all later steps). A curve falling steeply towards the early "
    "steps is the vanishing gradient: those steps barely move the loss, so training barely "
    "learns from them. (Where every step has its own loss term, as in a language model, the "
    "curve stays level.)",
    "saliency": "Which inputs the loss is most sensitive to: the input (left), |dLoss/dx| per "
    "step and channel (middle), and gradient x input (right; red raises the loss, blue lowers "
    "it). The gradient is taken at the input the model reads (after the run's scaling).",
    "saliency_tokens": "Which tokens the loss is most sensitive to: ||dLoss/de_t|| over each "
    "token's embedding vector e_t.",
    "forget": "Forget-gate values (GRU: update gate z) over every inspected step and unit, per "
    "layer and direction. Values below the low mark erase the cell's memory, values above the "
    "high mark carry it forward almost unchanged (long memory).",
}
_OUTPUTS = ("*.png", "index.html", "summary.json")


@dataclass
class Figure:
    """One PNG of a report: ``file`` relative to the report folder."""

    file: str
    title: str
    caption: str
    sample: int | None = None


@dataclass
class Report:
    """What ``inspect_run`` wrote: ``out_dir`` with the figures, ``summary.json`` and
    ``index.html``; ``summary`` is the content of ``summary.json``."""

    out_dir: Path
    task: str
    figures: list[Figure] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def index(self) -> Path:
        return self.out_dir / "index.html"


def inspect_run(
    run_dir: str | Path,
    inputs: Any = None,
    out_dir: str | Path | None = None,
    *,
    samples: list[int] | None = None,
    text: str | None = None,
    labels: Any = None,
    lengths: Any = None,
    max_units: int = 32,
    steps: int = 64,
    low: float = 0.1,
    high: float = 0.9,
    overwrite: bool = False,
) -> Report:
    """Inspect chosen samples of a trained run: PNG figures, ``summary.json``, ``index.html``.

    Args:
        run_dir: a run directory written by ``lstmkit train``.
        inputs: classify: a file (.npz with X[, y, lengths], IDX, UCR) or an array X (with
            ``labels`` / ``lengths``); forecast: a CSV / Parquet file with the training columns
            or a DataFrame (window j reads rows j..j+lookback-1); textgen: a UTF-8 text file
            (or give ``text``), cut into chunks of ``steps`` tokens.
        out_dir: where to write (default ``run_dir/inspect``). A non-empty folder is refused
            unless ``overwrite`` and it holds an earlier report (whose files are replaced).
        samples: indices of the sequences / windows / chunks to inspect (default: the first 3
            sequences; the last window with a known future and the last window; chunk 0).
        max_units: at most this many units per heatmap (the most active ones).
        low, high: the forget-gate saturation marks.

    Example::

        >>> report = inspect_run("runs/digits", "digits_test.npz", samples=[0, 5])
        >>> report.index                       # open in a browser
        >>> report.summary["recurrent"][0]["forget"]["layers"][0]["share_high"]
    """
    from lstmkit.estimators.loading import load

    if not isinstance(max_units, int) or max_units < 1:
        raise ValueError(f"max_units must be a positive integer, got {max_units!r}")
    est = load(run_dir)
    task = est.task
    if text is not None and task != "textgen":
        raise ValueError(f"text= is for textgen runs; {run_dir} is a {task} run (give inputs)")
    if inputs is None and text is None:
        what = "a text file or text=" if task == "textgen" else "an input file or array"
        raise ValueError(f"inspect needs inputs to run the {task} model on: {what}")
    source = INPUTS[task].from_source(est, inputs, text=text, labels=labels, lengths=lengths,
                                      steps=steps)  # fmt: skip
    chosen = _check_samples(samples, len(source)) if samples is not None else None
    chosen = chosen or source.default_samples()
    out = _prepare_out(Path(out_dir) if out_dir else Path(run_dir) / "inspect", overwrite)
    report = Report(out, task)
    rows, pooled = [], {}
    for i in chosen:
        s = source.sample(i)
        a = analyse(est.model_, s.x, s.target, s.lengths)
        rows.append(_sample_summary(est, s, a))
        _sample_figures(report, s, a, max_units, rows[-1])
        for r in a.recordings:  # the valid steps, pooled over samples for the forget stats
            pooled.setdefault(r.name, []).append(r)
    recurrent = _forget_section(report, pooled, low, high)
    for entry in recurrent:
        entry["samples"] = {str(row["index"]): row["recurrent"][entry["name"]] for row in rows}
    for row in rows:
        del row["recurrent"]
    report.summary = {
        "task": task,
        "run_dir": str(run_dir),
        "input": "text" if text is not None else _describe(inputs),
        "loss": LOSSES[type(est.model_)].text,
        "model": est.config_.to_dict(),
        "samples": rows,
        "recurrent": recurrent,
        "figures": [vars(f) for f in report.figures],
    }
    from lstmkit.train.checkpoint import atomic_write_json

    atomic_write_json(out / "summary.json", report.summary)
    write_index(report.summary, out / "index.html")
    log.debug("inspect: %d figures, summary.json and index.html in %s", len(report.figures), out)
    return report


# ------------------------------------------------------------------ pieces
def _check_samples(samples: list[int], count: int) -> list[int]:
    bad = [s for s in samples if isinstance(s, bool) or not isinstance(s, int | np.integer)
           or not 0 <= s < count]  # fmt: skip
    if bad:
        raise ValueError(
            f"sample {bad[0]} is out of range: the input holds {count} sample(s), 0..{count - 1}"
        )
    return list(dict.fromkeys(int(s) for s in samples))  # in order, without repeats


def _prepare_out(out: Path, overwrite: bool) -> Path:
    """A folder to write into: new or empty, or (``overwrite``) one holding an earlier report,
    whose files are removed. Nothing else a user has is ever deleted."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise ValueError(
                f"{out} already exists and is not empty; pass --overwrite to replace an earlier "
                "report or choose another --out"
            )
        if not (out / "summary.json").is_file():
            raise ValueError(
                f"{out} is not empty and holds no earlier inspect report (summary.json); "
                "--overwrite replaces only a report; choose another --out"
            )
        for pattern in _OUTPUTS:
            for path in out.glob(pattern):
                path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    return out


def _valid_steps(r: Recording) -> int:
    """The steps of the one sample the recording holds (its length when padded)."""
    return r.shape[3] if r.lengths is None else int(r.lengths[0])


def _top_units(h: torch.Tensor, max_units: int) -> list[int]:
    """The ``max_units`` units whose hidden state varies most over time (in unit order);
    h (D, L, H)."""
    hidden = h.shape[-1]
    if hidden <= max_units:
        return list(range(hidden))
    score = h.std(dim=1, correction=0).sum(0)  # (H,)
    return sorted(torch.topk(score, max_units).indices.tolist())


def _tag(name: str, several: bool) -> str:
    return name.replace(".", "-") + "-" if several else ""


def _sample_figures(report: Report, s: Sample, a: Analysis, max_units: int, row: dict) -> None:
    from lstmkit.viz.gates import plot_gates, plot_grad_norms, plot_saliency, plot_states

    out, i = report.out_dir, s.index
    several = len({r.name for r in a.recordings}) > 1
    lines, line_steps = [], None
    for r, dh in zip(a.recordings, a.hidden_grads, strict=True):
        num_layers, num_dirs, _, length, hidden = r.shape
        valid = _valid_steps(r)
        steps = s.steps[:valid] if length == len(s.steps) else None  # not past a strided conv
        line_steps = steps
        norms = dh[:, :, 0, :valid].norm(dim=-1)  # (num_layers, D, valid)
        info = row["recurrent"][r.name] = {"grad_norms": norms.tolist(), "units_shown": []}
        where = f"{r.name} ({r.cell})" if several else r.cell
        for k in range(num_layers):
            h = r.values["h"][k, :, 0, :valid]  # (D, valid, H)
            units = _top_units(h, max_units)
            info["units_shown"].append(units)
            shown = f", {len(units)} most active of {hidden} units" if len(units) < hidden else ""
            base = f"sample{i}-{_tag(r.name, several)}layer{k}"
            gates = {g: r.values[g][k, :, 0, :valid][..., units].numpy() for g in r.gates}
            title = f"sample {i}, {where} layer {k}: gates{shown}"
            plot_gates(gates, out / f"{base}-gates.png", title=title, steps=steps, units=units)
            report.figures.append(Figure(f"{base}-gates.png", title, CAPTIONS["gates"], i))
            c = r.values.get("c")
            c = None if c is None else c[k, :, 0, :valid][..., units].numpy()
            title = f"sample {i}, {where} layer {k}: states{shown}"
            plot_states(c, h[..., units].numpy(), out / f"{base}-states.png", title=title,
                        steps=steps, units=units)  # fmt: skip
            report.figures.append(Figure(f"{base}-states.png", title, CAPTIONS["states"], i))
            for d in range(num_dirs):
                label = f"layer {k}" + ("" if num_dirs == 1 else (" fwd", " bwd")[d])
                lines.append(((f"{r.name} " if several else "") + label, norms[k, d].numpy()))
    title = f"sample {i}: per-step hidden-state gradient norms"
    plot_grad_norms(lines, out / f"sample{i}-gradnorm.png", title=title, steps=line_steps)
    report.figures.append(Figure(f"sample{i}-gradnorm.png", title, CAPTIONS["gradnorm"], i))
    valid = s.x.shape[1] if s.lengths is None else int(s.lengths[0])
    title = f"sample {i}: input saliency"
    shown = None if s.shown is None else s.shown[:valid]
    plot_saliency(shown, a.input_grad[0, :valid].numpy(), a.inputs[0, :valid].numpy(),
                  out / f"sample{i}-saliency.png", title=title, steps=s.steps[:valid],
                  channels=s.channels)  # fmt: skip
    caption = CAPTIONS["saliency" if s.shown is not None else "saliency_tokens"]
    report.figures.append(Figure(f"sample{i}-saliency.png", title, caption, i))


def _forget_section(report: Report, pooled: dict, low: float, high: float) -> list[dict]:
    """Forget-gate statistics over every inspected step, per recurrent layer; one figure."""
    from lstmkit.viz.gates import plot_forget

    entries, panels = [], []
    several = len(pooled) > 1
    gate = "f"
    for name, recs in pooled.items():
        r = recs[0]
        gate = keep_gate(r.values)
        f = torch.cat([p.values[gate][:, :, :, : _valid_steps(p)] for p in recs], dim=3)
        # f: (layers, D, 1, valid steps of all samples, H)
        stats = forget_stats({gate: f}, None, low, high)
        num_layers, num_dirs = r.shape[:2]
        entries.append(
            {"name": name, "cell": r.cell, "layers": num_layers, "directions": num_dirs,
             "hidden": r.shape[4], "forget": stats}
        )  # fmt: skip
        for e in stats["layers"]:
            k, d = e["layer"], e["direction"]
            label = (f"{name} " if several else "") + f"layer {k}"
            label += "" if num_dirs == 1 else (", forward", ", backward")[d]
            panels.append((label, f[k, d].numpy(), e["share_low"], e["share_high"]))
    title = f"{'forget' if gate == 'f' else 'update'}-gate saturation over the inspected steps"
    plot_forget(panels, report.out_dir / "forget.png", low=low, high=high, gate=gate, title=title)
    report.figures.append(Figure("forget.png", title, CAPTIONS["forget"]))
    return entries


def _sample_summary(est, s: Sample, a: Analysis) -> dict:
    row = {"index": s.index, "label": s.label, "loss": float(a.loss[0]), "recurrent": {}}
    if est.task == "classify":
        proba = torch.softmax(a.output[0].float(), 0)
        k = int(proba.argmax())
        row["prediction"] = f"predicted class {est.classes_[k]} (p = {float(proba[k]):.3f})"
    elif est.task == "regress":
        values = ", ".join(f"{float(v):.4g}" for v in a.output[0])
        row["prediction"] = f"predicted {values}"
    elif est.task == "forecast":
        truth = "against the known future" if s.target is not None else "no future known"
        row["prediction"] = f"forecast of {est.horizon_} steps, {truth}"
    else:
        row["prediction"] = f"next-token loss {float(a.loss[0]):.3f} nats per {est.level}"
    return row


def _describe(inputs: Any) -> str:
    if isinstance(inputs, str | Path):
        return str(inputs)
    shape = getattr(inputs, "shape", None)
    return f"{type(inputs).__name__} {tuple(shape)}" if shape is not None else type(inputs).__name__
