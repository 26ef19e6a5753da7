"""lstmkit.TextGenerator: fit, generate, evaluate, save / load, exact resume after a crash."""

import json

import pytest
import torch
from tests.textgen.unigram import unigram_bits

import lstmkit
from lstmkit.data.text import StreamBatches, split_text
from lstmkit.estimators import textgen as textgen_module
from lstmkit.estimators.textgen import TextGenerator


@pytest.fixture(scope="module")
def fitted(small_text, tiny):
    torch.set_num_threads(1)
    return TextGenerator(**tiny).fit(small_text)


def test_fit_learns_and_records_history(fitted, small_text):
    assert len(fitted.history_) == 2
    assert {"loss", "val_loss", "val_bpc"} <= set(fitted.history_[-1])
    assert fitted.history_[-1]["loss"] < fitted.history_[0]["loss"]
    m = fitted.evaluate(small_text[-1500:])
    assert set(m) == {"loss", "bpc", "tokens"}
    assert m["bpc"] == pytest.approx(m["loss"] / torch.log(torch.tensor(2.0)).item())
    # below the unigram entropy of the text it trained on (~4.2 bits; uniform over its ~43
    # characters is 5.4): it predicts from context, not from character frequencies alone
    train_text, _ = split_text(small_text, (0.95, 0.05))  # val_fraction 0.05
    assert m["bpc"] < unigram_bits(train_text)


def test_same_seed_same_text_other_seed_other_text(fitted):
    a = fitted.generate("And God", length=60, seed=3)
    assert a == fitted.generate("And God", length=60, seed=3)
    assert a != fitted.generate("And God", length=60, seed=4)
    assert a.startswith("And God") and len(a) == len("And God") + 60
    assert len(fitted.generate(length=25, seed=0)) == 25  # empty prompt


def test_greedy_decoding(fitted):
    greedy = {fitted.generate("the ", length=40, top_k=1, seed=s) for s in range(3)}
    assert len(greedy) == 1  # top_k=1 ignores the seed: argmax every step
    assert fitted.generate("the ", length=40, top_p=1e-9, seed=7) == greedy.pop()
    cold = {fitted.generate("the ", length=40, temperature=1e-4, seed=s) for s in range(3)}
    assert len(cold) == 1  # a tiny temperature is greedy too
    hot = {fitted.generate("the ", length=40, temperature=5.0, seed=s) for s in range(3)}
    assert len(hot) == 3


def test_temperature_sharpens_the_distribution(fitted):
    """Lower temperature -> more repetitive text (fewer distinct characters)."""

    def distinct(t):
        return len(set(fitted.generate("", length=400, temperature=t, seed=0)))

    assert distinct(0.3) < distinct(3.0)


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"temperature": 0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"length": -1}, "length"),
        ({"prompt": "Zebra \u00e9"}, "never occur"),  # char level: unseen characters
    ],
)
def test_generate_rejects_bad_arguments(fitted, kwargs, needle):
    with pytest.raises(ValueError, match=needle):
        fitted.generate(**({"length": 5} | kwargs))


def test_options_are_validated():
    with pytest.raises(TypeError, match="hiden"):
        TextGenerator(hiden=3)
    bad = [({"level": "byte"}, "level"), ({"hidden": 32, "embedding": 16, "tie_weights": True},
           "embedding == hidden"), ({"epochs": 0}, "epochs"), ({"bptt": 0}, "bptt")]  # fmt: skip
    for options, match in bad:
        with pytest.raises(ValueError, match=match):
            TextGenerator(**options).check_options()
        with pytest.raises(ValueError, match=match):  # fit checks them before reading the text
            TextGenerator(**options).fit("some text\n")
    with pytest.raises(ValueError, match="not fitted"):
        TextGenerator().generate("x")


def test_word_level_unknown_words_and_perplexity(small_text, tiny, tmp_path):
    gen = TextGenerator(**tiny | {"level": "word", "epochs": 1, "tie_weights": True}).fit(
        small_text
    )
    assert gen.model_.head.weight is gen.model_.embedding.weight
    text = gen.generate("And Zorglub said", length=12, seed=0)  # unseen word: read as <unk>
    assert text.startswith("And Zorglub said") and "<unk>" not in text
    m = gen.evaluate(small_text[-2000:])
    assert set(m) == {"loss", "perplexity", "tokens"} and m["perplexity"] > 1
    gen.save(tmp_path / "w")
    again = lstmkit.load(tmp_path / "w")
    assert isinstance(again, TextGenerator) and again.level == "word"
    assert again.generate("And God", length=12, seed=1) == gen.generate("And God", length=12,
                                                                         seed=1)  # fmt: skip


def test_save_and_load(fitted, tmp_path):
    fitted.save(tmp_path / "run")
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["task"] == "textgen" and config["tokenizer"]["level"] == "char"
    again = TextGenerator.load(tmp_path / "run")
    assert again.generate("In the", length=50, seed=2) == fitted.generate("In the", length=50,
                                                                          seed=2)  # fmt: skip


class _Crash(RuntimeError):
    pass


def test_crash_mid_epoch_then_resume_matches_uninterrupted(small_text, tiny, tmp_path, monkeypatch):
    options = tiny | {"epochs": 3, "layers": 2, "dropout": 0.2}  # dropout: the RNG must resume
    full = TextGenerator(**options).fit(small_text, run_dir=tmp_path / "full")

    train_text, _ = split_text(small_text, (0.95, 0.05))  # val_fraction 0.05
    ids = full.tokenizer_.encode(train_text)
    per_epoch = len(StreamBatches(ids, tiny["batch_size"], tiny["bptt"]))
    crash_at = per_epoch + per_epoch // 2  # the middle of the second epoch
    calls = {"n": 0}

    class CrashingLoss(textgen_module._StreamLoss):
        def __call__(self, model, batch):
            calls["n"] += 1
            if calls["n"] == crash_at:
                raise _Crash("simulated crash")
            return super().__call__(model, batch)

    monkeypatch.setattr(textgen_module, "_StreamLoss", CrashingLoss)
    with pytest.raises(_Crash):
        TextGenerator(**options).fit(small_text, run_dir=tmp_path / "cut")
    monkeypatch.undo()
    ck = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    assert ck["epoch"] == 1  # the crash came after the first epoch's checkpoint

    resumed = TextGenerator(**options).fit(small_text, run_dir=tmp_path / "cut", resume=True)
    a, b = full.model_.state_dict(), resumed.model_.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in full.history_]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"} for row in resumed.history_]
