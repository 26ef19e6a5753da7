"""Model calls off the event loop, and micro-batching of concurrent classify requests.

:class:`ModelRunner` runs every model call on one worker thread: the event loop keeps accepting
requests while a forward pass runs, and calls never overlap (a torch model is not shared across
threads; a text generator carries state from step to step).

:class:`MicroBatcher` groups requests that arrive within ``window`` seconds of the first of them
and read the same shape (same ``L`` and ``C``, with or without ``lengths``) into one forward pass,
and hands each caller its own rows back. A group whose pass fails (one request's ``lengths`` out
of range, say) is re-run request by request, so that each caller gets its own answer or error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

__all__ = ["MicroBatcher", "ModelRunner"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class ModelRunner:
    """One worker thread for every model call (``await runner(fn, *args)``); ``close()`` ends
    the thread (a later call starts a new one, as when an app's lifespan runs again)."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None

    async def __call__(self, fn: Callable[..., T], *args: Any) -> T:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lstmkit-model")
        return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)

    def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


@dataclass
class _Group:
    items: list[tuple[np.ndarray, np.ndarray | None, asyncio.Future]] = field(default_factory=list)
    rows: int = 0


class MicroBatcher:
    """``await batcher(X, lengths)`` -> ``fn(X, lengths)``, shared with concurrent callers.

    Args:
        fn: the model call, ``(X (N, L, C), lengths (N,) or None) -> (N, ...)`` array; its rows
            must not depend on the other rows of the batch.
        runner: where ``fn`` runs (a :class:`ModelRunner`).
        window: seconds to wait after a group's first request for others to join it; 0 runs
            every request on its own.
        max_rows: a group this large runs at once, without waiting out the window.
    """

    def __init__(
        self,
        fn: Callable[[np.ndarray, np.ndarray | None], np.ndarray],
        runner: ModelRunner,
        window: float = 0.002,
        max_rows: int = 1024,
    ) -> None:
        if window < 0:
            raise ValueError(f"window must be >= 0 seconds, got {window}")
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows}")
        self.fn, self.runner, self.window, self.max_rows = fn, runner, window, max_rows
        self._groups: dict[Hashable, _Group] = {}
        self._tasks: set[asyncio.Task] = set()
        self.requests = 0  # requests served
        self.passes = 0  # calls of fn (forward passes)

    async def __call__(self, X: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
        if X.ndim != 3 or len(X) == 0:
            raise ValueError(f"X must be a non-empty (N, L, C) array, got shape {X.shape}")
        self.requests += 1
        if self.window == 0:
            return await self._run_one(X, lengths)
        loop = asyncio.get_running_loop()
        key = (X.shape[1], X.shape[2], lengths is None)
        future = loop.create_future()
        group = self._groups.setdefault(key, _Group())
        group.items.append((X, lengths, future))
        group.rows += len(X)
        if group.rows >= self.max_rows:
            self._flush(key, group)
        elif len(group.items) == 1:
            loop.call_later(self.window, self._flush, key, group)
        return await future

    def _flush(self, key: Hashable, group: _Group) -> None:
        if self._groups.get(key) is not group:
            return  # already flushed (it filled up before its window ended)
        del self._groups[key]
        task = asyncio.ensure_future(self._run_group(group.items))
        self._tasks.add(task)  # a reference, so that the task is not collected mid-run
        task.add_done_callback(self._tasks.discard)

    async def _run_one(self, X: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
        self.passes += 1
        return await self.runner(self.fn, X, lengths)

    async def _run_group(self, items: list) -> None:
        if len(items) == 1:
            X, lengths, future = items[0]
            await _settle(future, self._run_one(X, lengths))
            return
        X = np.concatenate([x for x, _, _ in items])  # (sum N, L, C)
        lengths = None
        if items[0][1] is not None:
            lengths = np.concatenate([lens for _, lens, _ in items])
        try:
            out = await self._run_one(X, lengths)
        except Exception as e:  # one request's bad content fails the pass: run them one by one
            log.debug("batch of %d requests failed (%s); running them one by one", len(items), e)
            for x, lens, future in items:
                await _settle(future, self._run_one(x, lens))
            return
        start = 0
        for x, _, future in items:
            if not future.done():  # done: its caller gave up (client disconnected)
                future.set_result(out[start : start + len(x)])
            start += len(x)


async def _settle(future: asyncio.Future, work) -> None:
    try:
        result = await work
    except Exception as e:
        if not future.done():
            future.set_exception(e)
    else:
        if not future.done():
            future.set_result(result)
