"""``lstmkit serve``: a trained run over HTTP (FastAPI on uvicorn).

``build_app(run_dir)`` makes the ASGI app (``GET /health``, ``/docs`` and the task's endpoint:
``POST /predict``, ``/forecast`` or ``/generate``); ``serve(run_dir, host, port)`` runs it until
SIGINT / SIGTERM. FastAPI, uvicorn and pydantic come with ``pip install 'lstmkit[serve]'``; they
are imported only when an app is built.
"""

from lstmkit.serve.app import DEFAULT_MAX_BODY_BYTES, ENDPOINTS, build_app
from lstmkit.serve.server import serve

__all__ = ["DEFAULT_MAX_BODY_BYTES", "ENDPOINTS", "build_app", "serve"]
