"""Run the app on uvicorn until SIGINT / SIGTERM, then stop cleanly (``lstmkit serve``)."""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lstmkit.serve.app import DEFAULT_MAX_BODY_BYTES, ENDPOINTS, build_app, require_serve_deps

__all__ = ["serve"]

log = logging.getLogger("lstmkit.serve")


def serve(
    model: str | Path | Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    batch_window: float = 0.002,
    graceful_seconds: float = 10.0,
) -> None:
    """Serve ``model`` (a run directory or a fitted estimator, see :func:`build_app`) over HTTP
    on ``host:port`` until SIGINT or SIGTERM; then finish the requests in flight (at most
    ``graceful_seconds``) and return normally.

    ``port=0`` takes a free port; the INFO line ``serving ... on http://HOST:PORT`` names it.

    Raises:
        ImportError: FastAPI / uvicorn missing. ValueError: ``model`` cannot be served.
        OSError: the address cannot be listened on (port taken, unknown host).
    """
    require_serve_deps()
    import uvicorn

    app = build_app(model, max_body_bytes=max_body_bytes, batch_window=batch_window)
    sock = _listen(host, port)
    config = uvicorn.Config(
        app,
        access_log=False,  # RequestLog writes one line per request instead
        log_config=None,  # keep the caller's logging set-up
        timeout_graceful_shutdown=graceful_seconds,
    )
    server = uvicorn.Server(config)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    task = app.state.task
    log.info("serving a %s model on http://%s:%d (POST %s, GET /health, docs at /docs)",
             task, shown, bound, ENDPOINTS[task])  # fmt: skip
    with _signals_end_normally() as received:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()
    why = f" ({signal.Signals(received[0]).name})" if received else ""
    log.info("lstmkit serve stopped%s", why)


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (IPv6 when the host has a colon): connections made
    from now on wait in the backlog until the server accepts them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and
    # without it every answer on a kept-alive connection waits ~40 ms (Nagle + delayed ACK)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    sock.set_inheritable(True)
    return sock


@contextmanager
def _signals_end_normally() -> Iterator[list[int]]:
    """uvicorn shuts down gracefully on SIGINT / SIGTERM, then raises the signal again for the
    handler installed before it (by default: die of SIGTERM, KeyboardInterrupt). Installing a
    handler that only notes the signal makes a signalled server end like a finished one (exit
    code 0). Yields the list of signals noted. A no-op off the main thread."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def note(sig: int, frame) -> None:
        received.append(sig)

    before = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
