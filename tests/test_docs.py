"""Every relative link in the Markdown documents points at a file that exists
and, for ``#section`` links, at a heading that exists (GitHub's anchors)."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import ROOT

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def documents(root: Path) -> list[Path]:
    """The Markdown files of the repository (not of hidden folders such as .venv)."""
    return sorted(p for p in root.rglob("*.md")
                  if not any(part.startswith(".") for part in p.relative_to(root).parts))


def anchors(path: Path) -> set[str]:
    """GitHub's anchor for each heading: lower case, punctuation dropped, spaces
    as hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    for line in FENCE.sub("", path.read_text()).splitlines():
        if line.startswith("#"):
            slug = re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            if count:
                seen[f"{slug}-{count}"] = 1
    return set(seen)


def broken_links(root: Path) -> list[str]:
    problems = []
    for doc in documents(root):
        for target in LINK.findall(FENCE.sub("", doc.read_text())):
            if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            file, _, anchor = target.partition("#")
            path = (doc.parent / file).resolve() if file else doc
            where = f"{doc.relative_to(root)}: {target}"
            if not path.exists():
                problems.append(f"{where}: no such file")
            elif anchor and path.suffix == ".md" and anchor not in anchors(path):
                problems.append(f"{where}: no such heading in {path.name}")
    return problems


def test_relative_links_in_the_documents_resolve():
    assert len(documents(ROOT)) >= 5
    assert broken_links(ROOT) == []


def test_the_check_finds_broken_links(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(
        "# Title\n## Speed: `bench.py`\n[ok](docs/a.md#the-end) [ok](#speed-benchpy) [web](https://x.org)\n"
        "[gone](docs/b.md) [no heading](docs/a.md#nowhere) ![picture](docs/pic.jpg)\n"
        "```\n[in code](nowhere.md)\n```\n")
    (tmp_path / "docs" / "a.md").write_text("# The end\n[up](../README.md#title) [self](#the-end-1)\n")
    assert broken_links(tmp_path) == [
        "README.md: docs/b.md: no such file",
        "README.md: docs/a.md#nowhere: no such heading in a.md",
        "README.md: docs/pic.jpg: no such file",
        "docs/a.md: #the-end-1: no such heading in a.md",
    ]
