"""``index.html``: one self-contained page gathering an inspect report's figures.

Plain HTML with inline CSS and relative image links (the folder can be moved or zipped as a
whole); every piece of text is escaped.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = ["render_index", "write_index"]

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }}
h1 {{ font-size: 1.5em; }} h2 {{ font-size: 1.2em; margin-top: 2em;
      border-bottom: 1px solid #ddd; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }}
th {{ background: #f3f3f3; }} td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
figure {{ margin: 1.2em 0; }} img {{ max-width: 100%; border: 1px solid #eee; }}
figcaption {{ font-size: 0.9em; color: #444; max-width: 900px; }}
.note {{ color: #555; font-size: 0.9em; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p>{intro}</p>
{sections}
</body>
</html>
"""


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f'<td class="num">{v:.4g}</td>'
        if isinstance(v, int) and not isinstance(v, bool):
            return f'<td class="num">{v}</td>'
        return f"<td>{escape(str(v))}</td>"

    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>\n" for row in rows)
    return f"<table>\n<tr>{head}</tr>\n{body}</table>"


def _figure(fig: dict) -> str:
    src = quote(fig["file"])
    return (
        f'<figure><img src="{src}" alt="{escape(fig["title"])}">'
        f"<figcaption><b>{escape(fig['title'])}.</b> {escape(fig['caption'])}</figcaption>"
        "</figure>"
    )


def _flat(d: dict, prefix: str = "") -> list[list[Any]]:
    rows = []
    for k, v in d.items():
        if isinstance(v, dict):
            rows += _flat(v, f"{prefix}{k}.")
        else:
            rows.append([f"{prefix}{k}", v if isinstance(v, int | float | str) else str(v)])
    return rows


def render_index(summary: dict[str, Any]) -> str:
    """The page for a report's ``summary.json`` content."""
    sections = []
    samples = summary["samples"]
    sections.append("<h2>Samples</h2>")
    sections.append(_table(["sample", "what", "model", "loss"],
                           [[s["index"], s["label"], s["prediction"], s["loss"]]
                            for s in samples]))  # fmt: skip
    rows = []
    for entry in summary["recurrent"]:
        stats = entry["forget"]
        for e in stats["layers"]:
            rows.append([entry["name"], entry["cell"], e["layer"],
                         ("forward", "backward")[e["direction"]], e["count"], e["share_low"],
                         e["share_high"], e["mean"]])  # fmt: skip
    if rows:
        stats = summary["recurrent"][0]["forget"]
        gate, low, high = stats["gate"], stats["low"], stats["high"]
        sections.append(f"<h2>Forget-gate statistics ({escape(gate)})</h2>")
        sections.append(
            f'<p class="note">Share of the gate\'s values below {low:g} (the unit erases its '
            f"memory) and above {high:g} (it keeps it), over every inspected step and unit.</p>"
        )
        header = ["layer module", "cell", "layer", "direction", "values", f"share < {low:g}",
                  f"share > {high:g}", "mean"]  # fmt: skip
        sections.append(_table(header, rows))
    figures = summary["figures"]
    sections += [_figure(f) for f in figures if f["sample"] is None]
    for s in samples:
        sections.append(f"<h2>Sample {s['index']}: {escape(s['label'])}</h2>")
        sections.append(f'<p class="note">{escape(s["prediction"])}; loss {s["loss"]:.4g}</p>')
        sections += [_figure(f) for f in figures if f["sample"] == s["index"]]
    sections.append("<h2>Run</h2>")
    sections.append(_table(["setting", "value"], _flat(summary["model"])))
    intro = (
        f"Task <b>{escape(summary['task'])}</b>, run <code>{escape(summary['run_dir'])}</code>, "
        f"input <code>{escape(summary['input'])}</code>. Gradients are those of the model's own "
        f"loss: {escape(summary['loss'])}."
    )
    title = f"lstmkit inspect: {Path(summary['run_dir']).name or summary['run_dir']}"
    return _PAGE.format(title=escape(title), intro=intro, sections="\n".join(sections))


def write_index(summary: dict[str, Any], path: str | Path) -> None:
    """Write ``render_index(summary)`` to ``path`` atomically."""
    from lstmkit.train.checkpoint import atomic_write_text

    atomic_write_text(Path(path), render_index(summary))
