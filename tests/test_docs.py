"""The documentation site: ``mkdocs build --strict`` passes (a broken link, a missing page or an
unresolvable API reference fails it), every page of the nav is built with its images, and the
API reference documents every public class and function of the packages it covers."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
API = {"nn": "nn", "models": "models", "reference": "reference", "data": "data", "train": "train"}

pytest.importorskip("mkdocs", reason="the docs extra (make setup installs it)")
pytest.importorskip("mkdocstrings")
yaml = pytest.importorskip("yaml")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = os.environ | {"NO_MKDOCS_2_WARNING": "1"}
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f",
                        str(ROOT / "mkdocs.yml"), "-d", str(out)], capture_output=True,
                       text=True, env=env, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def _nav_pages(items) -> list[str]:
    pages = []
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_every_page_of_the_nav_is_built_with_its_title_and_images(site):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages = _nav_pages(config["nav"])
    assert len(pages) >= 18
    for page in pages:
        stem = page.removesuffix(".md")
        html = site / (
            "index.html" if stem == "index" else f"{stem.removesuffix('/index')}/index.html"
        )
        assert html.is_file(), page
        text = html.read_text()
        title = next(
            l for l in (ROOT / "docs" / page).read_text().splitlines() if l.startswith("# ")
        )
        assert re.sub(r"[`*]", "", title[2:]).split(":")[0].strip() in re.sub(r"<[^>]+>", "", text)
        for src in re.findall(r'<img[^>]+src="([^"]+)"', text):
            if not src.startswith(("http:", "https:", "data:")):
                assert (html.parent / src).resolve().is_file(), (page, src)
    assert (site / "img" / "gunpoint-loss.png").is_file()  # the figures moved into the guides


def _public(module: str) -> list[str]:
    mod = importlib.import_module(f"lstmkit.{module}")
    return [n for n in mod.__all__ if inspect.isclass(getattr(mod, n)) or inspect.isfunction(
        getattr(mod, n))]  # fmt: skip


@pytest.mark.parametrize("module", sorted(API))
def test_the_api_reference_documents_every_public_name(site, module):
    text = (site / "api" / API[module] / "index.html").read_text()
    mod = importlib.import_module(f"lstmkit.{module}")

    def documented(name: str) -> bool:  # under the package, or its defining module's path
        where = getattr(mod, name).__module__
        return f'id="lstmkit.{module}.{name}"' in text or f'id="{where}.{name}"' in text

    missing = [n for n in _public(module) if not documented(n)]
    assert not missing, missing


def test_the_estimators_and_load_are_in_the_reference(site):
    text = (site / "api" / "lstmkit" / "index.html").read_text()
    names = ("estimators.Classifier", "estimators.Regressor", "estimators.forecaster.Forecaster",
             "estimators.panel_forecaster.PanelForecaster", "estimators.TextGenerator",
             "estimators.loading.load")  # fmt: skip
    for name in names:
        assert f'id="lstmkit.{name}"' in text, name
