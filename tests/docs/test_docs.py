"""The documentation site: ``mkdocs build --strict`` passes (a broken link, a missing page or an
unresolvable API reference fails it), every page of the nav is built with its images, and the
API reference documents every public class and function of the packages it covers."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
API = {"nn": "nn", "models": "models", "reference": "reference", "data": "data", "train": "train"}

pytest.importorskip("mkdocs", reason="the docs extra (make setup installs it)")
pytest.importorskip("mkdocstrings")
yaml = pytest.importorskip("yaml")


def _flatten(items) -> list[str]:
    pages = []
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages += _flatten(value) if isinstance(value, list) else [value]
    return pages


def nav_pages() -> list[str]:
    """The pages of mkdocs.yml's nav, as paths under docs/."""
    return _flatten(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])


def page_html(site: Path, page: str) -> Path:
    """The built file of a nav page."""
    stem = page.removesuffix(".md")
    return site / ("index.html" if stem == "index" else f"{stem.removesuffix('/index')}/index.html")


def test_every_page_of_the_nav_is_built_with_its_title_and_images(site):
    pages = nav_pages()
    assert len(pages) >= 18
    for page in pages:
        html = page_html(site, page)
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
