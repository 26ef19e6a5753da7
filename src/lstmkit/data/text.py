"""Text for the ``textgen`` task: loading, tokenizers, contiguous splits and stream batches.

A language model reads one long token stream. ``StreamBatches`` lays it out as ``batch_size``
contiguous streams side by side and cuts them into chunks of ``bptt`` steps, in order, so that the
hidden state at the end of one chunk is the right initial state for the next one (truncated
backpropagation through time)::

    >>> tok = CharTokenizer.fit(text)
    >>> train, val, test = split_text(text, (0.9, 0.05, 0.05))
    >>> batches = StreamBatches(tok.encode(train), batch_size=64, bptt=100)
    >>> for x, y, reset in batches.batches():  # x, y (64, <=100); y[:, t] == x[:, t + 1]
    ...     ...
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from importlib import resources
from itertools import pairwise
from pathlib import Path

import torch
from torch import Tensor

__all__ = [
    "BUILTIN_TEXTS",
    "MIN_CHARS",
    "TOKENIZERS",
    "CharTokenizer",
    "StreamBatches",
    "WordTokenizer",
    "load_text",
    "split_text",
    "tokenizer_from_dict",
]

BUILTIN_TEXTS = {"kjv": "kjv.txt"}  # name -> file in lstmkit/datasets/
MIN_CHARS = 100  # shorter texts cannot be split into train / validation / test usefully

UNK, EOS = "<unk>", "<eos>"


# ---------------------------------------------------------------------------------- loading
def load_text(source: str | Path) -> str:
    """The text of a built-in name (``kjv``) or a UTF-8 file, with ``\\r\\n`` turned into ``\\n``.

    Raises:
        ValueError: a missing file, a folder, bytes that are not UTF-8, or a text that is empty or
            shorter than ``MIN_CHARS`` characters.
    """
    name = str(source).strip()
    if name in BUILTIN_TEXTS and not Path(name).exists():
        data = resources.files("lstmkit").joinpath("datasets", BUILTIN_TEXTS[name]).read_bytes()
        where = f"built-in text {name!r}"
    else:
        path = Path(name).expanduser()
        if not path.exists():
            known = ", ".join(BUILTIN_TEXTS)
            raise ValueError(
                f"text file {name} does not exist (built-in texts: {known}); pass a UTF-8 .txt file"
            )
        if not path.is_file():
            raise ValueError(f"{name} is not a file; pass a UTF-8 text file")
        data = path.read_bytes()
        where = str(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{where} is not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start}); "
            "convert it first, e.g. iconv -f latin1 -t utf-8"
        ) from None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValueError(f"{where} is empty; a language model needs some text to learn from")
    if len(text) < MIN_CHARS:
        raise ValueError(
            f"{where} holds {len(text)} characters; textgen needs at least {MIN_CHARS}"
        )
    return text


def split_text(text: str, fractions: Sequence[float]) -> list[str]:
    """Cut ``text`` into consecutive parts of about the given fractions, in order, never shuffled.

    Each cut moves forward to the next line start (within 1000 characters) so that no line is
    split; ``"".join(parts) == text``. Fractions must be positive and sum to 1 (or less: the
    last part takes the rest).
    """
    if not fractions or any(f <= 0 for f in fractions) or sum(fractions) > 1 + 1e-9:
        raise ValueError(f"fractions must be positive and sum to at most 1, got {list(fractions)}")
    cuts, acc = [], 0.0
    for f in fractions[:-1]:
        acc += f
        pos = round(acc * len(text))
        nl = text.find("\n", pos, pos + 1000)
        cuts.append(nl + 1 if nl >= 0 else pos)
    bounds = [0, *cuts, len(text)]
    parts = [text[a:b] for a, b in pairwise(bounds)]
    if any(not p for p in parts):
        raise ValueError(
            f"text of {len(text)} characters is too short to split into {len(fractions)} "
            f"non-empty parts of fractions {list(fractions)}"
        )
    return parts


# ---------------------------------------------------------------------------------- tokenizers
class _Vocab:
    """Shared vocabulary bookkeeping: ``itos`` (id -> token) and ``stoi`` (token -> id)."""

    level = ""

    def __init__(self, itos: Sequence[str]) -> None:
        self.itos = list(itos)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("a vocabulary must not hold the same token twice")
        if self.itos[0] != UNK:
            raise ValueError(f"token 0 must be {UNK!r}, got {self.itos[0]!r}")
        self.unk_id = 0

    def __len__(self) -> int:
        return len(self.itos)

    def to_dict(self) -> dict:
        return {"level": self.level, "itos": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict):
        if d.get("level") != cls.level:
            raise ValueError(f"expected a {cls.level}-level tokenizer, got {d.get('level')!r}")
        return cls(d["itos"])

    def _ids(self, tokens: Sequence[str], strict: bool, what: str) -> list[int]:
        if strict:
            unknown = sorted({t for t in tokens if t not in self.stoi})
            if unknown:
                raise ValueError(
                    f"{what} {unknown[:10]!r} never occur in the training text, so the model "
                    "cannot read them; use only characters the model was trained on"
                )
        return [self.stoi.get(t, self.unk_id) for t in tokens]


class CharTokenizer(_Vocab):
    """One token per character; id 0 is ``<unk>`` (characters unseen in the training text).

    Example::

        >>> tok = CharTokenizer.fit("hello")
        >>> tok.decode(tok.encode("hole"))
        'hole'
    """

    level = "char"

    @classmethod
    def fit(cls, text: str) -> CharTokenizer:
        return cls([UNK, *sorted(set(text))])

    @property
    def start_id(self) -> int:
        """What an empty prompt starts from: a line break when the text had any."""
        return self.stoi.get("\n", self.unk_id)

    def encode(self, text: str, strict: bool = False) -> list[int]:
        """Ids of the characters; unseen ones become ``<unk>``, or a ValueError if ``strict``."""
        return self._ids(list(text), strict, "the characters")

    def decode(self, ids: Sequence[int]) -> str:
        return "".join("\ufffd" if i == self.unk_id else self.itos[i] for i in ids)


_WORD = re.compile(r"\n|\w+(?:'\w+)*|[^\w\s]")  # line breaks, words (with apostrophes), marks
_NO_SPACE_BEFORE = set(".,;:!?)]}'\"%")
_NO_SPACE_AFTER = set("([{")


class WordTokenizer(_Vocab):
    """Words and punctuation marks as tokens, case kept; line breaks are ``<eos>``.

    Tokens are ``\\w+`` runs (``LORD's`` stays one word) and single punctuation marks. Ids:
    0 ``<unk>`` (words unseen in the training text), 1 ``<eos>``, then words by descending
    frequency. ``decode`` puts single spaces between words and none before ``.,;:!?)``, so
    ``decode(encode(t))`` is ``t`` with its spacing normalised.

    Example::

        >>> tok = WordTokenizer.fit("In the beginning God created the heaven.\\n")
        >>> tok.decode(tok.encode("God created  the earth ."))
        'God created the <unk>.'
    """

    level = "word"

    @classmethod
    def fit(cls, text: str, max_vocab: int | None = None) -> WordTokenizer:
        counts = Counter(t for t in _WORD.findall(text) if t != "\n")
        words = sorted(counts, key=lambda w: (-counts[w], w))
        if max_vocab is not None:
            words = words[: max(0, max_vocab - 2)]
        return cls([UNK, EOS, *words])

    @staticmethod
    def tokenize(text: str) -> list[str]:
        return [EOS if t == "\n" else t for t in _WORD.findall(text)]

    @property
    def start_id(self) -> int:
        return self.stoi[EOS]

    def encode(self, text: str, strict: bool = False) -> list[int]:
        """Ids of the words; unseen ones become ``<unk>`` (a ValueError if ``strict``)."""
        return self._ids(self.tokenize(text), strict, "the words")

    def decode(self, ids: Sequence[int]) -> str:
        out: list[str] = []
        prev = EOS
        for i in ids:
            tok = self.itos[i]
            if tok == EOS:
                out.append("\n")
            else:
                glue = (
                    prev == EOS
                    or tok[0] in _NO_SPACE_BEFORE
                    or (len(prev) == 1 and prev in _NO_SPACE_AFTER)
                )
                out.append(tok if glue else " " + tok)
            prev = tok
        return "".join(out)


TOKENIZERS: dict[str, type[_Vocab]] = {"char": CharTokenizer, "word": WordTokenizer}


def tokenizer_from_dict(d: dict) -> CharTokenizer | WordTokenizer:
    """Rebuild a tokenizer written by ``to_dict``."""
    level = d.get("level")
    if level not in TOKENIZERS:
        raise ValueError(f"tokenizer level must be one of {', '.join(TOKENIZERS)}, got {level!r}")
    return TOKENIZERS[level].from_dict(d)


# ---------------------------------------------------------------------------------- batches
class StreamBatches:
    """A token stream as ``batch_size`` contiguous streams, cut into ``bptt``-step chunks in order.

    The stream ``ids`` (T,) is trimmed to ``batch_size * S + 1`` tokens (S = (T - 1) //
    batch_size) and row b of every chunk continues row b of the previous chunk. Same interface as
    ``lstmkit.train.TensorBatches``: ``len()`` chunks per epoch, ``batches(generator)`` yields
    ``(x, y, reset)`` with x, y (batch_size, <=bptt) int64, ``y[:, t] == x[:, t + 1]`` (the next
    token), and ``reset`` a bool scalar, true on the first chunk of every pass: the model starts
    from a zero state there. The generator is ignored: the order never changes.
    """

    def __init__(self, ids: Sequence[int] | Tensor, batch_size: int, bptt: int) -> None:
        ids = torch.as_tensor(ids, dtype=torch.int64).flatten()
        for name, v in (("batch_size", batch_size), ("bptt", bptt)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        steps = (len(ids) - 1) // batch_size  # S, steps per stream
        if steps < 1:
            raise ValueError(
                f"{len(ids)} tokens are too few for {batch_size} parallel streams; need at "
                f"least {batch_size + 1}: use a longer text or a smaller batch size"
            )
        self.batch_size, self.bptt, self.steps = batch_size, bptt, steps
        self.ids = ids
        used = ids[: batch_size * steps + 1]
        self.x = used[:-1].view(batch_size, steps)  # (N, S)
        self.y = used[1:].view(batch_size, steps)  # (N, S), next tokens

    @property
    def tokens(self) -> int:
        """Predicted tokens per pass (N * S)."""
        return self.batch_size * self.steps

    def __len__(self) -> int:
        return (self.steps + self.bptt - 1) // self.bptt

    def shard(self, rank: int, world_size: int) -> StreamBatches:
        """This process's streams in a ``world_size``-process run: the text is laid out as
        ``world_size * batch_size`` streams and rank r reads rows [r * N, (r + 1) * N), so every
        rank runs the same number of chunks and the batch size stays per process."""
        from lstmkit.train.batches import check_rank

        check_rank(rank, world_size)
        if world_size == 1:
            return self
        try:
            whole = StreamBatches(self.ids, self.batch_size * world_size, self.bptt)
        except ValueError as e:
            shape = f"{world_size} processes x batch size {self.batch_size}"
            raise ValueError(f"{e} ({shape})") from None
        rows = slice(rank * self.batch_size, (rank + 1) * self.batch_size)
        whole.x, whole.y = whole.x[rows], whole.y[rows]  # (N, S') each
        whole.batch_size = self.batch_size
        return whole

    def batches(self, generator: torch.Generator | None = None) -> Iterator[tuple[Tensor, ...]]:
        for start in range(0, self.steps, self.bptt):
            end = start + self.bptt
            yield self.x[:, start:end], self.y[:, start:end], torch.tensor(start == 0)
