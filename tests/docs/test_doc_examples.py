"""Every command and Python example of README and the docs pages runs as written (short
training, shipped data), and what a console block prints has the form the command prints.
The harness itself is checked on small pages that must fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.docs.examples import (
    DocError,
    PageRun,
    Unavailable,
    blocks,
    commands,
    pages,
    skeleton,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def shared_runs(tmp_path_factory) -> Path:
    """Run directories the pages share: one folder for all xdist workers of the session (the
    parent of each worker's base folder), so a run that two pages make trains once."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return tmp_path_factory.mktemp("doc-runs")
    shared = tmp_path_factory.getbasetemp().parent / "doc-runs"
    shared.mkdir(exist_ok=True)
    return shared


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_of_the_page_runs(page, tmp_path, shared_runs):
    try:
        run = PageRun(page, tmp_path, shared_runs).run()
    except Unavailable as e:  # .ci/run installs Fashion-MNIST (Debian's dataset-fashion-mnist)
        pytest.skip(str(e))
    examples = [b for b in blocks(page) if b.lang in ("bash", "console", "python")]
    assert run.ran or not examples or all(b.skip for b in examples), run.not_run


def test_the_pages_hold_examples_and_few_are_left_unrun():
    found = [b for p in pages() for b in blocks(p) if b.lang in ("bash", "console", "python")]
    assert len(found) >= 40
    assert sum(bool(b.skip) for b in found) <= 3, [f"{b.page}:{b.line}" for b in found if b.skip]


def _page(tmp_path: Path, text: str) -> Path:
    page = tmp_path / "page.md"
    page.write_text(text)
    return page


def test_a_failing_command_fails_the_page_with_its_line(tmp_path):
    page = _page(tmp_path, "# t\n\n```bash\nlstmkit predict runs/none --input x.npz\n```\n")
    with pytest.raises(DocError, match=r"page.md:4: .*names runs/none, which no page makes"):
        PageRun(page, tmp_path).run()
    page = _page(tmp_path, "```bash\nlstmkit train classify --data nosuch.npz --out runs/a\n```\n")
    with pytest.raises(DocError, match=r"exited 1:\n.*nosuch.npz"):
        PageRun(page, tmp_path).run()


def test_printed_lines_must_have_the_form_the_command_prints(tmp_path):
    page = _page(tmp_path, "```console\n$ lstmkit --version\nlstmkit 9.9\n```\n")
    PageRun(page, tmp_path).run()  # numbers are free
    page = _page(tmp_path, "```console\n$ lstmkit --version\nlstmkit version 9.9\n```\n")
    with pytest.raises(DocError, match=r"printed no line like 'lstmkit version 9\.9'"):
        PageRun(page, tmp_path).run()


def test_a_failing_python_block_and_an_unknown_program_fail(tmp_path):
    page = _page(tmp_path, "text\n\n```python\nimport lstmkit\nlstmkit.nothing_here\n```\n")
    with pytest.raises(DocError, match=r"page.md:3: python block failed: AttributeError"):
        PageRun(page, tmp_path).run()
    page = _page(tmp_path, "```bash\nwget https://example.com/data.csv\n```\n")
    with pytest.raises(DocError, match="cannot run `wget"):
        PageRun(page, tmp_path).run()


def test_commands_split_chains_continuations_and_quoted_arguments(tmp_path):
    page = _page(tmp_path, "```console\n$ lstmkit a b && lstmkit c \\\n    --d 1  # note\n"
                 "out 1\n$ curl -d '{\"x\":\n  [1]}'\n{\"y\": 2}\n```\n")  # fmt: skip
    (block,) = blocks(page)
    cmds = commands(block)
    assert [c.tokens for c in cmds] == [["lstmkit", "a", "b"], ["lstmkit", "c", "--d", "1"],
                                        ["curl", "-d", '{"x":\n  [1]}']]  # fmt: skip
    assert cmds[1].output == ["out 1"] and cmds[2].output == ['{"y": 2}']
    assert skeleton("  epochs_run     300").fullmatch("epochs_run 1")
    assert skeleton("a ... b").fullmatch("a x y z b") and not skeleton("a 1").fullmatch("b 1")
