"""``lstmkit train textgen`` and ``lstmkit generate``."""

from __future__ import annotations

import argparse
from pathlib import Path

from lstmkit.cli.args import (
    add_common_train_args,
    add_run_dir,
    bounded,
    default_help,
    positive_int,
    source_path,
    train_options,
    train_tasks,
)

__all__ = ["add_textgen_args", "register", "resume_textgen", "textgen_inputs"]


_temperature = bounded(float, "a temperature > 0", lambda v: v > 0)
_top_p = bounded(float, "a top-p in (0, 1]", lambda v: 0.0 < v <= 1.0)
_length = bounded(int, "a length >= 0", lambda v: v >= 0)


def register(sub: argparse._SubParsersAction) -> None:
    t = train_tasks(sub).add_parser(
        "textgen",
        help="character- or word-level text generation",
        description="Train an LSTM language model on a text. SOURCE is a built-in text (kjv: "
        "Genesis, Exodus and Proverbs of the King James Bible, 446 KB) or a UTF-8 .txt file. The "
        "text is split by position: the last --test-fraction is the test part, the last "
        "--val-fraction of the rest validates.",
    )
    add_textgen_args(t)
    t.set_defaults(func=cmd_train_textgen)

    g = sub.add_parser(
        "generate",
        help="write text with a trained textgen run",
        description="Sample text from a trained textgen run and print it: PROMPT followed by "
        "LENGTH characters (char level) or words (word level).",
    )
    add_run_dir(g, "a textgen run directory")
    g.add_argument("--prompt", default="", help="text to continue (default: a new line)")
    g.add_argument("--length", type=_length, default=200, help="tokens to generate "
                   "(default %(default)s)")  # fmt: skip
    g.add_argument("--temperature", type=_temperature, default=1.0,
                   help="> 0; lower is more conservative (default %(default)s)")  # fmt: skip
    g.add_argument("--top-k", type=positive_int, help="sample among the K most likely tokens")
    g.add_argument("--top-p", type=_top_p, help="nucleus sampling: the most likely tokens "
                   "holding probability P, in (0, 1]")  # fmt: skip
    g.add_argument("--seed", type=int, help="the same seed gives the same text")
    g.set_defaults(func=cmd_generate)


def _print_metrics(metrics: dict, run_dir: Path) -> None:
    width = max(len(k) for k in metrics)
    for k, v in metrics.items():
        print(f"  {k:<{width}}  {v:.4f}" if isinstance(v, float) else f"  {k:<{width}}  {v}")
    print(f"\nrun directory: {run_dir}  (metrics.json, samples.txt, loss.png, model.pt)")


def _headline(metrics: dict) -> str:
    if "test_bpc" in metrics:
        return f"test {metrics['test_bpc']:.4f} bits per character"
    return f"test perplexity {metrics['test_perplexity']:.2f}"


def add_textgen_args(t: argparse.ArgumentParser) -> None:
    """The flags of ``train textgen`` (text, language model and the common training flags);
    ``lstmkit tune textgen`` takes the same."""
    from lstmkit.estimators.textgen import TextGenerator

    def h(text: str, name: str, shown: str | None = None) -> str:
        return default_help(text, TextGenerator, name, shown)

    t.add_argument("--data", required=True, metavar="SOURCE", help="kjv or a UTF-8 text file")
    t.add_argument("--test-fraction", type=bounded(float, "a fraction in (0, 0.5]",
                                                   lambda v: 0 < v <= 0.5), default=0.05,
                   help="test part at the end of the text (default %(default)s)")  # fmt: skip
    m = t.add_argument_group("language model")
    m.add_argument("--level", choices=["char", "word"],
                   help=h("tokens: characters, or words and punctuation", "level"))  # fmt: skip
    m.add_argument("--bptt", type=positive_int, metavar="STEPS",
                   help=h("steps per truncated-BPTT chunk", "bptt"))  # fmt: skip
    m.add_argument("--embedding", type=positive_int,
                   help=h("token vector size", "embedding", "--hidden"))  # fmt: skip
    m.add_argument("--tie-weights", action="store_true", default=None,
                   help=h("the output layer reuses the embedding matrix (needs embedding == "
                          "hidden)", "tie_weights"))  # fmt: skip
    add_common_train_args(t, TextGenerator)


def textgen_inputs(args: argparse.Namespace) -> tuple[dict, dict]:
    """The run's ``data`` section and the estimator options from the flags of
    ``add_textgen_args``, every option validated and the text readable (nothing is written)."""
    from lstmkit.data.text import load_text
    from lstmkit.estimators.textgen import TextGenerator

    options = train_options(args, TextGenerator)
    TextGenerator(**options).check_options()  # every option checked before anything is written
    load_text(args.data)  # a missing, empty or non-UTF-8 file fails before --out is made
    return {"source": source_path(args.data), "test_fraction": args.test_fraction}, options


def cmd_train_textgen(args: argparse.Namespace) -> int:
    from lstmkit.cli.launch import train_task
    from lstmkit.tasks.textgen import run_textgen

    data, options = textgen_inputs(args)

    def report(metrics: dict, run_dir: Path) -> None:
        print(f"textgen {args.data}: {_headline(metrics)}")
        _print_metrics(metrics, run_dir)

    return train_task(args, "textgen", run_textgen, data, options, report)


def resume_textgen(run_dir: Path, config: dict):
    """``lstmkit resume`` of a textgen run: its work and report (run_cmds.cmd_resume runs
    them)."""
    from lstmkit.cli.launch import resume_work
    from lstmkit.tasks.textgen import run_textgen

    def report(metrics: dict, run_dir: Path) -> None:
        print(f"resumed {run_dir}: {_headline(metrics)}")
        _print_metrics(metrics, run_dir)

    return resume_work(run_textgen, config), report


def cmd_generate(args: argparse.Namespace) -> int:
    from lstmkit.estimators.textgen import TextGenerator

    gen = TextGenerator.load(args.run_dir)
    text = gen.generate(args.prompt, length=args.length, temperature=args.temperature,
                        top_k=args.top_k, top_p=args.top_p, seed=args.seed)  # fmt: skip
    print(text)
    return 0
