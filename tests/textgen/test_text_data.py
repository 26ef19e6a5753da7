"""lstmkit.data.text: loading, tokenizers, contiguous splits, stream batches."""

import pytest
import torch

from lstmkit.data.text import (
    CharTokenizer,
    StreamBatches,
    WordTokenizer,
    load_text,
    split_text,
    tokenizer_from_dict,
)


def test_builtin_kjv_is_shipped():
    text = load_text("kjv")
    assert 300_000 < len(text) < 500_000
    assert text.startswith("In the beginning God created the heaven and the earth.\n")
    assert not any(ch.isdigit() for ch in text[:5000])  # verse numbers stripped


def test_load_text_normalises_line_ends(tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(("line one\r\n" * 20).encode())
    assert load_text(path) == "line one\n" * 20


@pytest.mark.parametrize(
    "content, needle",
    [
        (None, "does not exist"),
        (b"", "empty"),
        (b" \n\n\t ", "empty"),
        (b"short text\n", "at least"),
        ("caf\u00e9 ".encode("latin-1") * 50, "not UTF-8"),
    ],
)
def test_load_text_errors(tmp_path, content, needle):
    path = tmp_path / "t.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=needle):
        load_text(path)


def test_char_tokenizer_round_trip_and_unknown():
    tok = CharTokenizer.fit("hello world\n")
    assert tok.itos[0] == "<unk>"
    text = "hello\nworld"
    assert tok.decode(tok.encode(text)) == text
    ids = tok.encode("hex")  # x unseen
    assert ids[2] == tok.unk_id
    with pytest.raises(ValueError, match=r"\['x'\]"):
        tok.encode("hex", strict=True)
    again = tokenizer_from_dict(tok.to_dict())
    assert isinstance(again, CharTokenizer) and again.itos == tok.itos


def test_word_tokenizer_round_trip_unknown_and_eos():
    train = "And God said, Let there be light: and there was light.\nIt is the LORD's.\n"
    tok = WordTokenizer.fit(train)
    assert tok.itos[:2] == ["<unk>", "<eos>"]
    assert "LORD's" in tok.stoi and "," in tok.stoi and "And" in tok.stoi  # case kept
    assert tok.decode(tok.encode(train)) == train
    ids = tok.encode("And God saw the light.\n")
    assert ids[2] == tok.unk_id  # "saw" was never seen
    assert ids[-1] == tok.stoi["<eos>"]
    assert tok.decode(ids) == "And God <unk> the light.\n"
    again = WordTokenizer.from_dict(tok.to_dict())
    assert again.encode(train) == tok.encode(train)
    with pytest.raises(ValueError, match="word-level"):
        WordTokenizer.from_dict(CharTokenizer.fit("ab").to_dict())


def test_split_is_contiguous_and_in_order(small_text):
    train, val, test = split_text(small_text, (0.9, 0.05, 0.05))
    assert train + val + test == small_text  # by position, never shuffled
    assert train.endswith("\n") and val.endswith("\n")  # cut at line starts
    assert abs(len(train) / len(small_text) - 0.9) < 0.05
    with pytest.raises(ValueError, match="too short"):
        split_text("abc", (0.5, 0.3, 0.2))
    with pytest.raises(ValueError, match="positive"):
        split_text(small_text, (0.9, 0.0, 0.1))


def test_stream_batches_layout_order_and_reset():
    ids = torch.arange(1000)
    sb = StreamBatches(ids, batch_size=4, bptt=30)
    steps = (1000 - 1) // 4  # 249 per stream
    assert sb.steps == steps and len(sb) == 9  # ceil(249 / 30)
    chunks = list(sb.batches())
    assert len(chunks) == len(sb)
    assert [bool(r) for *_, r in chunks] == [True] + [False] * 8
    assert all(x.shape == y.shape == (4, 30) for x, y, _ in chunks[:-1])
    assert chunks[-1][0].shape == (4, steps - 8 * 30)
    x = torch.cat([c[0] for c in chunks], dim=1)  # (4, steps): each row a contiguous stream
    y = torch.cat([c[1] for c in chunks], dim=1)
    assert torch.equal(x[:, 1:], y[:, :-1])  # y is x shifted by one
    assert torch.equal(y, x + 1)  # the next token everywhere, across chunk borders too
    assert torch.equal(x[:, 0], torch.arange(4) * steps)  # streams laid side by side, in order
    assert [c[0].dtype for c in chunks] == [torch.int64] * 9
    again = list(sb.batches(torch.Generator().manual_seed(5)))  # the order never changes
    assert all(torch.equal(a[0], b[0]) for a, b in zip(chunks, again, strict=True))


def test_stream_batches_errors():
    with pytest.raises(ValueError, match="too few"):
        StreamBatches(torch.arange(10), batch_size=16, bptt=4)
    with pytest.raises(ValueError, match="bptt"):
        StreamBatches(torch.arange(100), batch_size=4, bptt=0)
