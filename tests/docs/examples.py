"""The documentation's examples, run as a reader who copies them would run them.

Every fenced ``bash``, ``console`` and ``python`` block of README.md and of the docs pages is
executed in page order, in a fresh folder per page (a reader who opens only that page), with
shipped data only. Shell lines run ``lstmkit`` in this process (``--nproc`` runs in a real one:
its workers print to the terminal); ``lstmkit serve`` builds the app that the page's ``curl``
lines are then posted to (FastAPI's test client, no port). Python blocks run each in a fresh
namespace: each must stand alone, as a copied snippet does. A ``train ... --out RUN`` that an
earlier page ran with the same arguments and input files is the same seeded run: it is copied
from there, printed lines and all, rather than trained again.

Short settings: training is cut to one epoch (``--epochs 1 --min-steps 0``, two tune trials,
no AutoETS / AutoTheta baselines, ensembles of 2, text models of 64 units), the one change
made to what the page says.
A console block's printed lines are then checked for their form (numbers and spacing aside):
each must match a line that the command prints. ``full=True`` runs the pages at their own
settings and also compares the printed numbers, for a maintainer refreshing the pages:

    .venv/bin/python -m tests.docs.examples --full docs/regress.md

A page marks a block the check must not run with ``<!-- docs-check: skip REASON -->`` on the
line before it (a multi-machine launch, say); programs other than ``lstmkit`` and ``curl`` are
set-up steps that other tests cover (``NOT_RUN``). A run directory that a page uses but does not
make (deploy.md serving ``runs/digits``) is made once by the command of another page that
writes it (``--out runs/digits``), and copied in.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import inspect
import re
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

ROOT = Path(__file__).resolve().parents[2]
SKIP = re.compile(r"<!--\s*docs-check:\s*skip\s+(.+?)\s*-->")
FENCE = re.compile(r"^```(\w*)\s*$")

# programs a page names that this check does not run, and the test that covers each
NOT_RUN = {
    "make": "the set-up targets: CI runs make test itself, tests/docs/test_docs.py builds the docs",
    "pip": "installing: tests/test_wheel.py installs the wheel into a fresh venv",
    "python -m build": "building the wheel: tests/test_wheel.py",
    "tensorboard": "a viewer (a server): tests/tracking reads the event files back",
    "mlflow": "a viewer (a server): tests/tracking reads the MLflow store back",
}
SHORT = {  # (command, task) -> flags appended in short mode (argparse keeps the last value)
    ("train", "classify"): ["--epochs", "1", "--min-steps", "0"],
    ("train", "regress"): ["--epochs", "1", "--min-steps", "0"],
    ("train", "forecast"): ["--epochs", "1", "--min-steps", "0", "--no-baselines"],
    ("train", "textgen"): ["--epochs", "1", "--hidden", "64"],  # 18 s against 60 at 256 units
    ("tune", "classify"): ["--trials", "2", "--epochs", "1"],
    ("tune", "regress"): ["--trials", "2", "--epochs", "1"],
    ("tune", "forecast"): ["--trials", "2", "--epochs", "1"],
    ("tune", "textgen"): ["--trials", "2", "--epochs", "1"],
}
FULL_ONLY = (  # printed lines that only the page's own settings print (short mode sets --epochs)
    re.compile(r"\d+ training (sequences|series|windows): .*epochs for .*steps at least.*"),
)
SHORT_KEYWORDS = {"epochs": 1, "min_steps": 0, "baselines": False, "ensemble": 2}
ESTIMATORS = ("Classifier", "Regressor", "Forecaster", "PanelForecaster", "TextGenerator")
NUMBER = r"[-+]?(?:\d[\d,]*(?:\.\d*)*|\.\d+)(?:e[-+]?\d+)?%?"  # 3.37, 1,428, 0.1.0, 5e-3


@dataclass
class Block:
    page: str
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    skip: str | None = None


@dataclass
class Command:
    tokens: list[str]
    line: int
    output: list[str] = field(default_factory=list)  # console: the lines the page prints

    def __str__(self) -> str:
        return shlex.join(self.tokens)


class DocError(AssertionError):
    """An example that fails as the page writes it: page, line and what went wrong."""


class Unavailable(Exception):
    """The page needs data that this machine lacks and cannot fetch (the test skips it)."""


def _no_download(url: str, dest: Path) -> None:
    raise OSError("the docs check does not download")


def needs(text: str) -> str | None:
    """Why the examples in ``text`` cannot run here (None: they can): Fashion-MNIST's IDX
    files are looked up as lstmkit looks them up (apt-get install dataset-fashion-mnist)."""
    if "fashion-mnist" not in text:
        return None
    from lstmkit.data.builtin import find_idx_dir

    try:
        find_idx_dir("fashion-mnist", download=_no_download)
    except ValueError as e:
        return str(e)
    return None


def pages() -> list[Path]:
    """README.md and every docs page (the API reference pages hold no examples)."""
    docs = sorted(p for p in (ROOT / "docs").rglob("*.md") if "api" not in p.parts)
    return [ROOT / "README.md", *docs]


def blocks(page: Path) -> list[Block]:
    lines = page.read_text().splitlines()
    found, k = [], 0
    name = str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else page.name
    while k < len(lines):
        m = FENCE.match(lines[k])
        if not m:
            k += 1
            continue
        end = next(j for j in range(k + 1, len(lines)) if lines[j].startswith("```"))
        before = next((lines[j] for j in range(k - 1, -1, -1) if lines[j].strip()), "")
        skip = SKIP.search(before)
        text = "\n".join(lines[k + 1 : end]) + "\n"
        found.append(Block(name, k + 1, m.group(1), text, skip.group(1) if skip else None))
        k = end + 1
    return found


def commands(block: Block) -> list[Command]:
    """The shell commands of a bash or console block, ``&&`` chains split, with the output
    lines that a console block shows after each ``$`` line."""
    cmds: list[Command] = []
    lines = block.text.splitlines()
    k = 0
    while k < len(lines):
        line, at = lines[k], block.line + 1 + k
        k += 1
        if block.lang == "console" and not line.startswith("$ "):
            if cmds and line.strip():
                cmds[-1].output.append(line)
            continue
        text = line[2:] if block.lang == "console" else line
        while k < len(lines):  # a `\` continuation, or a quoted argument that goes on
            if text.rstrip().endswith("\\"):
                text = text.rstrip()[:-1] + " " + lines[k].strip()
            elif _open_quote(text):
                text += "\n" + lines[k]
            else:
                break
            k += 1
        tokens = shlex.split(text, comments=True)
        part: list[str] = []
        for tok in [*tokens, "&&"]:
            if tok == "&&":
                if part:
                    cmds.append(Command(part, at))
                part = []
            else:
                part.append(tok)
    return cmds


def _open_quote(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:  # "No closing quotation"
        return True
    return False


def creators() -> dict[str, Command]:
    """``runs/...`` -> the first command of any page that writes it with ``--out``."""
    made: dict[str, Command] = {}
    for page in pages():
        for block in blocks(page):
            if block.lang in ("bash", "console") and not block.skip:
                for cmd in commands(block):
                    if cmd.tokens[:2] == ["lstmkit", "train"] and "--out" in cmd.tokens:
                        made.setdefault(cmd.tokens[cmd.tokens.index("--out") + 1], cmd)
    return made


def skeleton(line: str) -> re.Pattern:
    """A printed line with its numbers, spacing and ``...`` left open."""
    parts = re.split(rf"({NUMBER}|\.\.\.|\s+)", line.strip())
    out = []
    for p in parts:
        if not p:
            continue
        if p == "...":
            out.append(".*")
        elif p.isspace():
            out.append(r"\s+")
        elif re.fullmatch(NUMBER, p):
            out.append(NUMBER)
        else:
            out.append(re.escape(p))
    return re.compile("".join(out))


def numbers(line: str) -> list[str]:
    return re.findall(NUMBER, line)


class PageRun:
    """Runs one page's blocks in order in ``folder``; ``shared`` holds run directories that other
    pages make, ``full`` keeps the page's own settings. ``report`` collects full-mode number
    differences (line, documented, printed)."""

    def __init__(self, page: Path, folder: Path, shared: Path | None = None, full: bool = False):
        self.page, self.folder, self.shared, self.full = page, folder, shared, full
        self.name = str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else page.name
        self.app = None
        self.ran: list[str] = []
        self.not_run: list[str] = []
        self.report: list[tuple[int, str, str]] = []

    def run(self) -> PageRun:
        all_blocks = [b for b in blocks(self.page) if b.lang in ("bash", "console", "python")]
        made = {
            c.tokens[c.tokens.index("--out") + 1]
            for b in all_blocks
            if b.lang != "python" and not b.skip
            for c in commands(b)
            if "--out" in c.tokens
        }
        missing = needs("".join(b.text for b in all_blocks if not b.skip))
        if missing:
            raise Unavailable(f"{self.name}: {missing}")
        with contextlib.chdir(self.folder):
            for block in all_blocks:
                if block.skip:
                    self.not_run.append(f"{self.name}:{block.line}: {block.skip}")
                elif block.lang == "python":
                    self.python(block)
                else:
                    for cmd in commands(block):
                        self.shell(cmd, made)
        return self

    def fail(self, line: int, what: str) -> DocError:
        return DocError(f"{self.name}:{line}: {what}")

    # shell -------------------------------------------------------------------------------------
    def shell(self, cmd: Command, made: set[str]) -> None:
        tokens = [t for t in cmd.tokens if t != "&"]  # `lstmkit serve ... &`: in the background
        program = "python -m build" if tokens[:3] == ["python", "-m", "build"] else tokens[0]
        if program in NOT_RUN:
            self.not_run.append(f"{self.name}:{cmd.line}: {cmd} ({NOT_RUN[program]})")
            return
        if program == "curl":
            return self.curl(cmd, tokens)
        if program != "lstmkit":
            raise self.fail(cmd.line, f"the docs check cannot run `{cmd}` (teach it, or mark it)")
        for tok in tokens:
            if tok.startswith("runs/") and tok not in made and not Path(tok).exists():
                self.borrow(tok, cmd)
        if tokens[1] == "serve":
            return self.serve(cmd, tokens)
        args = tokens[1:]
        if not self.full:
            args = [*args, *SHORT.get(tuple(args[:2]), [])]
            if "--ensemble" in args:
                args += ["--ensemble", "2"]
            if args[:2] == ["train", "textgen"] and "--embedding" in args:
                args += ["--embedding", "64"]  # tied weights need it equal to --hidden
        start = time.perf_counter()
        code, printed = self.lstmkit(args)
        self.ran.append(f"{cmd}  ({time.perf_counter() - start:.1f} s)")
        if code != 0:
            tail = "\n".join(printed[-8:])
            raise self.fail(cmd.line, f"`{cmd}` exited {code}:\n{tail}")
        self.compare(cmd, printed)

    def lstmkit(self, args: list[str]) -> tuple[int, list[str]]:
        """``lstmkit ARGS`` in this process, with its log lines. A ``train ... --out RUN`` that a
        page already ran with the same arguments and input files (so the same seeded run) is
        copied from that run, printed lines and all (one run per ``shared`` folder, which the
        xdist workers share: the second waits for the first)."""
        out = args[args.index("--out") + 1] if args[0] == "train" and "--out" in args else None
        if out is None or self.shared is None or Path(out).exists():
            return self._lstmkit(args)
        digest = hashlib.sha1("\0".join(args).encode())
        for a in args:
            if Path(a).is_file():
                digest.update(Path(a).read_bytes())
        key = self.shared / "trained" / digest.hexdigest()[:16]
        key.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(f"{key}.lock"):  # a page on another xdist worker waits for this run
            if not (key / "printed.txt").is_file():
                code, printed = self._lstmkit(args)
                if code != 0:
                    return code, printed
                shutil.copytree(out, key / "run")
                (key / "printed.txt").write_text("\n".join(printed))
                return code, printed
            shutil.copytree(key / "run", out)
            return 0, (key / "printed.txt").read_text().splitlines()

    @staticmethod
    def _lstmkit(args: list[str]) -> tuple[int, list[str]]:
        from tests.cli.inproc import lstmkit_cli

        if "--nproc" in args:  # its worker processes print to the real terminal: run it so
            import subprocess

            result = subprocess.run([sys.executable, "-m", "lstmkit", *args], text=True,
                                    capture_output=True, timeout=600)  # fmt: skip
        else:
            result = lstmkit_cli(*args, logs=True)
        return result.returncode, (result.stdout + result.stderr).splitlines()

    def borrow(self, run: str, cmd: Command) -> None:
        """A run directory the page uses but does not make: made once by its creator, copied."""
        maker = creators().get(run)
        if maker is None or self.shared is None:
            raise self.fail(cmd.line, f"`{cmd}` names {run}, which no page makes with --out")
        made = self.shared / "made"
        made.mkdir(parents=True, exist_ok=True)
        with FileLock(made / f"{run.replace('/', '_')}.lock"):
            if not (made / run).exists():
                with contextlib.chdir(made):
                    PageRun(self.page, made, self.shared, self.full).shell(maker, {run})
        shutil.copytree(made / run, self.folder / run)

    def compare(self, cmd: Command, printed: list[str]) -> None:
        actual = [p.strip() for p in printed]
        at = 0  # the page's lines come in the order printed: search on from the last match
        for want in cmd.output:
            if not self.full and any(p.fullmatch(want.strip()) for p in FULL_ONLY):
                continue
            pattern = skeleton(want)
            found = [
                k for k in [*range(at, len(actual)), *range(at)] if pattern.fullmatch(actual[k])
            ]
            hit = actual[found[0]] if found else None
            at = found[0] + 1 if found else at
            if hit is None:
                raise self.fail(
                    cmd.line, f"`{cmd}` printed no line like {want.strip()!r}; it printed:\n"
                    + "\n".join(actual[-15:]),
                )  # fmt: skip
            if self.full and numbers(hit) != numbers(want.strip()):
                self.report.append((cmd.line, want.strip(), hit))

    def serve(self, cmd: Command, tokens: list[str]) -> None:
        from lstmkit.serve import build_app

        self.app = build_app(tokens[2])
        self.ran.append(str(cmd))

    def curl(self, cmd: Command, tokens: list[str]) -> None:
        from fastapi.testclient import TestClient

        if self.app is None:
            raise self.fail(cmd.line, f"`{cmd}`: no `lstmkit serve` before it on the page")
        url = next(t for t in tokens if "localhost" in t or "127.0.0.1" in t)
        path = "/" + url.split("/", 1)[1] if "/" in url else "/"
        body = tokens[tokens.index("-d") + 1] if "-d" in tokens else None
        if body is not None and body.startswith("@"):  # curl -d @file: the file's bytes
            body = Path(body[1:]).read_text()
        with TestClient(self.app) as client:
            r = client.post(path, content=body, headers={"Content-Type": "application/json"})
        if r.status_code != 200:
            raise self.fail(cmd.line, f"`curl {path}` answered {r.status_code}: {r.text[:300]}")
        self.ran.append(f"curl {path}")
        if self.full:  # the answer, for a maintainer to compare with the page's
            self.report.append((cmd.line, "\n".join(cmd.output), r.text[:600]))
        keys = set(re.findall(r'"([\w.]+)":', "\n".join(cmd.output)))
        missing = keys - set(re.findall(r'"([\w.]+)":', r.text))
        if missing:
            raise self.fail(cmd.line, f"`curl {path}` answered without {sorted(missing)}")

    # python ------------------------------------------------------------------------------------
    def python(self, block: Block) -> None:
        tree = ast.parse(block.text, filename=f"{self.name}:{block.line}")
        if not self.full:
            tree = ast.fix_missing_locations(Shorten().visit(tree))
        code = compile(tree, f"{self.name}:{block.line}", "exec")
        try:
            exec(code, {"__name__": "__docs__"})
        except Exception as e:
            raise self.fail(block.line, f"python block failed: {type(e).__name__}: {e}") from e
        self.ran.append(f"python block at line {block.line}")


class Shorten(ast.NodeTransformer):
    """Short settings for Python blocks: an estimator trains one epoch (no minimum steps, no
    baselines, ensembles of 2), ``tune`` runs two trials of one epoch."""

    def visit_Call(self, node: ast.Call) -> ast.Call:
        self.generic_visit(node)
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name in ESTIMATORS:
            import lstmkit

            accepted = inspect.signature(getattr(lstmkit, name)).parameters
            for key, value in SHORT_KEYWORDS.items():
                if key in accepted and (key != "ensemble" or _has(node, key)):
                    _set(node, key, value)
        elif name == "tune":
            _set(node, "trials", 2)
            if len(node.args) > 2 and isinstance(node.args[2], ast.Dict):
                for key, value in (("epochs", 1), ("min_steps", 0)):
                    node.args[2].keys.append(ast.Constant(key))
                    node.args[2].values.append(ast.Constant(value))
        return node


def _has(node: ast.Call, key: str) -> bool:
    return any(k.arg == key for k in node.keywords)


def _set(node: ast.Call, key: str, value) -> None:
    node.keywords = [k for k in node.keywords if k.arg != key]
    node.keywords.append(ast.keyword(key, ast.Constant(value)))


def main(argv: list[str]) -> int:
    """``python -m tests.docs.examples [--full] [PAGE ...]``: run pages, print what differs."""
    import tempfile

    full = "--full" in argv
    chosen = [ROOT / a for a in argv if not a.startswith("-")] or pages()
    with tempfile.TemporaryDirectory() as tmp:
        shared = Path(tmp) / "shared"
        for page in chosen:
            folder = Path(tmp) / page.stem
            folder.mkdir()
            try:
                run = PageRun(page, folder, shared, full).run()
            except (DocError, Unavailable) as e:
                print(f"FAILED {e}")
                continue
            print(f"{run.name}: {len(run.ran)} ran, {len(run.not_run)} not run")
            for line in run.ran if "-v" in argv else []:
                print(f"  ran {line}")
            for line, want, got in run.report:
                print(f"  {run.name}:{line}: the page prints {want!r}, the run printed {got!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
