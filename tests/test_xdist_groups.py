"""``make test`` runs ``--dist loadgroup``: tests/conftest.py tags every test with its module's
xdist_group so that a module's tests share one worker (and its module-scoped fixtures, such as
the servers of tests/serve/test_serve_http.py, which are built once and checked at the end)."""

from __future__ import annotations

import os

import pytest


def test_a_module_is_one_xdist_group(request: pytest.FixtureRequest) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER") or not request.config.getvalue("loadgroup"):
        pytest.skip("not run with pytest-xdist --dist loadgroup")
    # pytest-xdist puts the group in the node id; a pytest it cannot do that for deals tests apart
    assert request.node.nodeid.endswith("@tests/test_xdist_groups.py"), request.node.nodeid
