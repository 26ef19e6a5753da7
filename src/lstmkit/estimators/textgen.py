"""``lstmkit.TextGenerator``: a character- or word-level LSTM language model that writes text.

``TextGenerator(**options).fit(text).generate(prompt, length)``; the CLI's ``train textgen`` and
``generate`` run exactly this code. Every option is a keyword argument of ``__init__`` (a
scikit-learn estimator: ``get_params`` / ``set_params`` / ``clone`` work); ``fit`` validates.

Training reads the text as ``batch_size`` contiguous streams (``StreamBatches``); the hidden state
is carried from chunk to chunk (detached) and reset at the start of every epoch. Validation is the
last ``val_fraction`` of the text, read in order with the state carried the same way.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from lstmkit.data.text import TOKENIZERS, StreamBatches, split_text, tokenizer_from_dict
from lstmkit.estimators._base import SavedEstimator, fit_callbacks, resolve_seed, train_config
from lstmkit.models.language import LanguageConfig, LanguageModel, filter_logits
from lstmkit.runs import merge_config
from lstmkit.train import distributed
from lstmkit.train.config import TrainConfig
from lstmkit.train.progress import epoch_lines
from lstmkit.train.trainer import EpochCallback, Trainer

__all__ = ["TextGenerator"]

log = logging.getLogger(__name__)

# The training defaults, measured on the built-in kjv text (446 KB, 63 characters) on 2 CPU cores:
# 5 epochs of 32 streams x 64 steps (985 updates) at a peak learning rate of 8e-3 with cosine
# decay train in about 60 s and reach 2.04 bits per character on the test part (1.96 on
# validation). Batch 64 or bptt 100 make fewer updates in the same time and ended 0.1-0.2 bpc
# worse; hidden 384 for 3 epochs took 95 s for 2.08.
_EVAL_STEPS_PER_STREAM = 1000  # evaluation streams this long: few zero-state starts


class TextGenerator(SavedEstimator):
    """LSTM language model with fit / generate / evaluate / score / save / load.

    Parameters
    ----------
    level : {"char", "word"}, default "char"
        Tokens: characters, or words and punctuation.
    hidden : int, default 256
        Units per recurrent layer.
    layers : int, default 1
    cell : {"lstm", "peephole", "coupled", "gru", "layernorm"}, default "lstm"
    dropout : float, default 0.0
        Between recurrent layers and on the top layer's output.
    embedding : int or None, default None
        Size of a token's vector; None: the same as ``hidden``.
    tie_weights : bool, default False
        The output layer shares the embedding matrix (needs embedding == hidden).
    bptt : int, default 64
        Steps per truncated-BPTT chunk.
    forget_bias : float or None, default 1.0
        Initial forget-gate bias; None keeps torch's uniform initialisation.
    backend : {"auto", "torch", "fused", "reference"}, default "auto"
    epochs : int, default 5
    batch_size : int, default 32
        Contiguous streams read side by side.
    lr : float, default 8e-3
        Peak learning rate.
    optimizer, momentum, weight_decay, l1, schedule, warmup_epochs, min_lr_ratio, step_size, \
gamma, plateau_patience, clip_norm, patience, device, precision
        The Trainer's settings, as for ``lstmkit.Classifier``.
    val_fraction : float, default 0.05
        The last part of the text (cut at a line start) used for validation; at most 0.5.
    random_state : int or None, default 0
        Seed of the weights and the training: the same seed gives the same model.
    verbose : int, default 0
        1: one line per epoch on stderr and a progress bar where someone watches.

    Examples
    --------
    ::

        >>> gen = TextGenerator(level="char", hidden=128, epochs=2).fit(text)
        >>> print(gen.generate("And God said", length=200, temperature=0.8, seed=0))
        >>> gen.evaluate(held_out_text)["bpc"]
    """

    task = "textgen"
    module_class = LanguageModel
    config_class = LanguageConfig
    fit_hint = "fit(text)"

    def __init__(
        self,
        *,
        level: str = "char",
        hidden: int = 256,
        layers: int = 1,
        cell: str = "lstm",
        dropout: float = 0.0,
        embedding: int | None = None,
        tie_weights: bool = False,
        bptt: int = 64,
        forget_bias: float | None = 1.0,
        backend: str = "auto",
        epochs: int = 5,
        batch_size: int = 32,
        lr: float = 8e-3,
        optimizer: str = "adam",
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        l1: float = 0.0,
        schedule: str = "cosine",
        warmup_epochs: float = 0.0,
        min_lr_ratio: float = 0.0,
        step_size: int = 10,
        gamma: float = 0.1,
        plateau_patience: int = 2,
        clip_norm: float | None = 1.0,
        val_fraction: float = 0.05,
        patience: int | None = None,
        device: str = "cpu",
        precision: str = "fp32",
        random_state: int | None = 0,
        verbose: int = 0,
    ) -> None:
        self.level = level
        self.hidden = hidden
        self.layers = layers
        self.cell = cell
        self.dropout = dropout
        self.embedding = embedding
        self.tie_weights = tie_weights
        self.bptt = bptt
        self.forget_bias = forget_bias
        self.backend = backend
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.l1 = l1
        self.schedule = schedule
        self.warmup_epochs = warmup_epochs
        self.min_lr_ratio = min_lr_ratio
        self.step_size = step_size
        self.gamma = gamma
        self.plateau_patience = plateau_patience
        self.clip_norm = clip_norm
        self.val_fraction = val_fraction
        self.patience = patience
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def check_options(self, seed: int = 0) -> TrainConfig:
        """Every option checked before any text is read (bad values, tie_weights without
        embedding == hidden); returns the Trainer's config."""
        if self.level not in TOKENIZERS:
            raise ValueError(f"level must be one of {', '.join(TOKENIZERS)}, got {self.level!r}")
        bptt = self.bptt
        if not isinstance(bptt, int) or isinstance(bptt, bool) or bptt < 1:
            raise ValueError(f"bptt must be a positive integer, got {bptt!r}")
        config = train_config(self, self.epochs, seed)
        self._language_config(vocab_size=1)
        return config

    def _language_config(self, vocab_size: int) -> LanguageConfig:
        return LanguageConfig(
            vocab_size=vocab_size,
            embedding=self.embedding if self.embedding is not None else self.hidden,
            hidden=self.hidden,
            layers=self.layers,
            cell=self.cell,
            dropout=self.dropout,
            tie_weights=self.tie_weights,
            backend=self.backend,
            forget_bias=self.forget_bias,
        )

    # ------------------------------------------------------------------ fit
    def fit(self, text: str, *, run_dir: str | Path | None = None, progress: bool = False,
            resume: bool = False,
            callbacks: Sequence[EpochCallback] = ()) -> TextGenerator:  # fmt: skip
        """Build the vocabulary from the training part of ``text``, train, keep the best weights.

        The last ``val_fraction`` of ``text`` (cut at a line start) is the validation part; the
        vocabulary comes from the rest only. ``run_dir``: write config.json, checkpoints, history
        and model.pt there; ``resume=True`` continues from its checkpoint.pt. ``callbacks``: the
        Trainer's ``on_epoch_end(epoch, record)`` hooks.
        """
        c = self.train_config_ = self.check_options(resolve_seed(self.random_state))
        if not isinstance(text, str) or not text:
            raise ValueError("fit needs a non-empty str of training text")
        if c.val_fraction > 0:
            train_text, val_text = split_text(text, (1 - c.val_fraction, c.val_fraction))
        else:
            train_text, val_text = text, ""
        self.tokenizer_ = TOKENIZERS[self.level].fit(train_text)
        train = StreamBatches(self.tokenizer_.encode(train_text), c.batch_size, self.bptt)
        val = self._eval_batches(val_text) if val_text else None
        torch.manual_seed(c.seed)
        self.config_ = self._language_config(len(self.tokenizer_))
        self.model_ = LanguageModel(self.config_)
        log.info("textgen: %d training and %d validation %ss, vocabulary %d, %d chunks of "
                 "%dx%d per epoch", train.tokens, 0 if val is None else val.tokens, self.level,
                 len(self.tokenizer_), len(train), c.batch_size, self.bptt)  # fmt: skip
        if run_dir is not None and distributed.is_main():  # rank 0 writes the run directory
            merge_config(run_dir, self._config_dict())
        callbacks = fit_callbacks(self, c.epochs, callbacks)
        bar = progress or self.verbose >= 1
        trainer = Trainer(self.model_, c, _StreamLoss(), _Evaluate(self.level), run_dir, bar,
                          callbacks)  # fmt: skip
        if resume:
            trainer.resume_from(Path(run_dir) / "checkpoint.pt")
        with epoch_lines(self.verbose):
            trainer.fit(train, val)
        self._keep_training_facts(trainer)
        return self

    def _eval_batches(self, text: str) -> StreamBatches:
        """``text`` in order as a few long streams (most tokens see a warmed-up state)."""
        ids = self.tokenizer_.encode(text)
        if len(ids) < 2:
            raise ValueError(
                f"text to evaluate holds {len(ids)} {self.level} token(s); need at least 2"
            )
        streams = min(self.train_config_.batch_size,
                      max(1, (len(ids) - 1) // _EVAL_STEPS_PER_STREAM))  # fmt: skip
        return StreamBatches(ids, streams, self.bptt)

    # ------------------------------------------------------------------ use
    @torch.no_grad()
    def evaluate(self, text: str) -> dict[str, float]:
        """Loss (nats per token) on ``text`` read in order, and ``bpc`` (bits per character, char
        level) or ``perplexity`` (word level); ``tokens``: how many predictions were scored."""
        self._check_fitted()
        batches = self._eval_batches(text)
        self.model_.eval()
        return _Evaluate(self.level)(self.model_, batches) | {"tokens": batches.tokens}

    def score(self, X: str, y=None) -> float:
        """Higher is better (scikit-learn's convention): minus the bits per character of text
        ``X`` (char level), or minus its perplexity (word level)."""
        m = self.evaluate(X)
        return -m["bpc"] if self.level == "char" else -m["perplexity"]

    @torch.no_grad()
    def generate(self, prompt: str = "", length: int = 200, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None,
                 seed: int | None = None) -> str:  # fmt: skip
        """``prompt`` followed by ``length`` sampled tokens (characters or words).

        Each token is drawn from softmax(logits / temperature), restricted to the ``top_k`` most
        likely tokens and/or the nucleus of probability ``top_p``; ``top_k=1`` is greedy. The same
        ``seed`` gives the same text. At char level a prompt with characters the model never saw
        is a ValueError; at word level unseen words are read as ``<unk>``. ``<unk>`` is never
        generated.
        """
        self._check_fitted()
        _check_sampling(length, temperature, top_k, top_p, seed)
        tok = self.tokenizer_
        ids = tok.encode(prompt, strict=self.level == "char") or [tok.start_id]
        gen = torch.Generator()
        if seed is None:
            gen.seed()
        else:
            gen.manual_seed(seed)
        self.model_.eval()
        device = next(self.model_.parameters()).device
        logits, state = self.model_(torch.tensor([ids], device=device))  # (1, P, V)
        new: list[int] = []
        for _ in range(length):
            scores = logits[0, -1].float().cpu() / temperature  # (V,)
            scores[tok.unk_id] = float("-inf")
            probs = torch.softmax(filter_logits(scores, top_k, top_p), dim=-1)
            new.append(int(torch.multinomial(probs, 1, generator=gen)))
            logits, state = self.model_(torch.tensor([new[-1:]], device=device), state)
        if self.level == "char":
            return prompt + tok.decode(new)
        head = tok.decode(ids)
        return prompt + tok.decode(ids + new)[len(head) :]

    # ------------------------------------------------------------------ persistence
    def _config_dict(self) -> dict:
        return {
            "task": "textgen",
            "model": self.config_.to_dict(),
            "train": self.train_config_.to_dict(),
            "options": self._options(),
            "bptt": self.bptt,
            "tokenizer": self.tokenizer_.to_dict(),
        }

    def _restore(self, config: dict) -> None:
        self.tokenizer_ = tokenizer_from_dict(config["tokenizer"])


def _check_sampling(length, temperature, top_k, top_p, seed) -> None:
    def is_int(v) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    if not is_int(length) or length < 0:
        raise ValueError(f"length must be an integer >= 0, got {length!r}")
    if not isinstance(temperature, int | float) or not temperature > 0:
        raise ValueError(f"temperature must be > 0 (1.0 samples as trained), got {temperature!r}")
    if top_k is not None and (not is_int(top_k) or top_k < 1):
        raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
    if top_p is not None and (not isinstance(top_p, int | float) or not 0.0 < top_p <= 1.0):
        raise ValueError(f"top_p must lie in (0, 1] or be None, got {top_p!r}")
    if seed is not None and not is_int(seed):
        raise ValueError(f"seed must be an integer or None, got {seed!r}")


class _StreamLoss:
    """The Trainer's step_loss: carries the (detached) state from one chunk to the next and
    starts from zeros where the batch says ``reset`` (the first chunk of an epoch)."""

    def __init__(self) -> None:
        self.state = None

    def __call__(self, model: LanguageModel | nn.Module, batch: tuple) -> tuple[torch.Tensor, int]:
        x, y, reset = batch  # x, y (N, L)
        state = None if bool(reset) else self.state
        logits, state = model(x, state)  # (N, L, V)
        self.state = _carry(model, state)
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        return loss, y.numel()


class _Evaluate:
    """The Trainer's evaluate: the whole stream in order, state carried; loss in nats per token
    plus ``bpc`` (char) or ``perplexity`` (word)."""

    def __init__(self, level: str) -> None:
        self.level = level

    def __call__(self, model: LanguageModel, batches: StreamBatches) -> dict[str, float]:
        device = next(model.parameters()).device
        total, n, state = 0.0, 0, None
        for x, y, reset in batches.batches():
            x, y = x.to(device), y.to(device)
            logits, state = model(x, None if bool(reset) else state)  # (N, L, V)
            state = _carry(model, state)
            total += float(F.cross_entropy(logits.float().flatten(0, 1), y.flatten(),
                                           reduction="sum"))  # fmt: skip
            n += y.numel()
        loss = total / max(n, 1)
        if self.level == "char":
            return {"loss": loss, "bpc": loss / math.log(2)}
        return {"loss": loss, "perplexity": math.exp(loss) if loss < 700 else math.inf}


def _carry(model: LanguageModel | nn.Module, state: tuple) -> tuple:
    """The state to start the next chunk from: detached (truncated BPTT) and in the weights'
    dtype (autocast may hand back bf16 states). ``model`` may be DDP-wrapped (``.module``)."""
    dtype = getattr(model, "module", model).embedding.weight.dtype
    h, c = state
    return h.detach().to(dtype), None if c is None else c.detach().to(dtype)
