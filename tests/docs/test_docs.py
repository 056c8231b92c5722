"""The README and the docs site: size, links, navigation, and the files the recipes name.

The site itself is built with ``mkdocs build --strict`` by ``make docs`` (part of ``make test``);
these checks are the fast part that needs no build.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
#: relative Markdown links ``[text](target)``, without the #anchor
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
#: a repository path in backticks, e.g. `rlimpro/descriptors/names.py`
PATH = re.compile(r"`((?:[\w.~-]+/)+[\w.~-]+\.(?:py|c|h|md|yaml|toml|pd|maxpat|sh))`")


def _nav_pages(nav: list) -> list[str]:
    pages = []
    for item in nav:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        pages += _nav_pages(value) if isinstance(value, list) else [value]
    return pages


def _mkdocs() -> dict:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    return yaml.load((REPO / "mkdocs.yml").read_text(), Loader=Loader)


def test_readme_is_short_and_keeps_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text()
    assert len(readme.encode()) <= 12 * 1024
    assert "make demo" in readme and "make test" in readme


def test_relative_links_of_the_readme_and_the_docs_resolve() -> None:
    for page in [REPO / "README.md", *sorted(DOCS.glob("*.md"))]:
        for target in LINK.findall(page.read_text()):
            if "://" in target or not (target.endswith(".md") or target.startswith("docs/") or page.parent == DOCS):
                continue  # e.g. the README's links to pages that `make demo` builds (00_synths/fm/map/index.html)
            assert (page.parent / target).exists(), f"{page.relative_to(REPO)}: broken link {target}"


def test_every_page_is_in_the_nav() -> None:
    nav = set(_nav_pages(_mkdocs()["nav"]))
    pages = {p.name for p in DOCS.glob("*.md")}
    assert pages - nav == set(), "pages missing from mkdocs.yml's nav"
    assert nav - pages == set(), "nav entries without a page"


def test_the_recipes_name_files_that_exist() -> None:
    for page in sorted(DOCS.glob("add-*.md")):
        paths = PATH.findall(page.read_text())  # placeholders such as `00_synths/<name>/synth.pd` do not match
        assert paths, f"{page.name} names no file"
        for path in paths:
            assert (REPO / path).exists(), f"{page.name} names {path}, which does not exist"
