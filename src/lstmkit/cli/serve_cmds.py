"""``lstmkit serve RUN_DIR``: the run's model over HTTP until Ctrl+C / SIGTERM (exit code 0)."""

from __future__ import annotations

import argparse
import logging

from lstmkit.cli.args import bounded

__all__ = ["register"]

_port = bounded(int, "a TCP port in 0..65535", lambda v: 0 <= v <= 65535)
_megabytes = bounded(float, "a positive number of MB", lambda v: v > 0)
_milliseconds = bounded(float, "a number of milliseconds >= 0", lambda v: 0 <= v <= 1000)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a trained run over HTTP (FastAPI; docs at /docs)",
        description="Serve a trained run over HTTP/JSON: GET /health, and the run's task "
        "endpoint: POST /predict (classify), POST /forecast (forecast) or POST /generate "
        "(textgen). OpenAPI docs at /docs. One log line per request; Ctrl+C or SIGTERM stops "
        "the server cleanly. Needs pip install 'lstmkit[serve]'.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory that lstmkit train wrote")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default %(default)s: this machine only; 0.0.0.0 "
        "for every interface)",
    )
    p.add_argument(
        "--port",
        type=_port,
        default=8000,
        help="TCP port (default %(default)s; 0: a free port, logged at start)",
    )
    p.add_argument(
        "--max-body-mb",
        type=_megabytes,
        default=10.0,
        metavar="MB",
        help="larger request bodies get a 413 (default %(default)s MB of 2^20 bytes)",
    )
    p.add_argument(
        "--batch-ms",
        type=_milliseconds,
        default=2.0,
        metavar="MS",
        help="classify: concurrent requests of the same shape arriving within this "
        "window share one forward pass (default %(default)s; 0: no batching)",
    )
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from lstmkit.serve.app import require_serve_deps

    try:
        require_serve_deps()
    except ImportError as e:
        raise ValueError(str(e)) from None
    if not args.verbose:  # one line per request: no start-up chatter, no per-call data notes
        logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
        logging.getLogger("lstmkit.data").setLevel(logging.WARNING)
    from lstmkit.serve.server import serve

    serve(
        args.run_dir,
        args.host,
        args.port,
        max_body_bytes=max(1, int(args.max_body_mb * 2**20)),
        batch_window=args.batch_ms / 1000,
    )
    return 0
