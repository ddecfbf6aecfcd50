"""Every test the docs cite as showing a guarantee exists: a renamed or deleted test fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# `tests/x.py`, `tests/x.py::test_y`, `tests/x.py::test_y[param]`, and `::test_z` naming another test of
# the file cited last on the same line.
CITE = re.compile(r"`(tests/[\w/]+\.py)?(?:::(\w+)(?:\[[^\]`]*\])?)?`")


def _citations() -> list[tuple[str, int, str, str | None]]:
    found = []
    for doc in sorted((ROOT / "docs").glob("*.md")):
        for number, line in enumerate(doc.read_text().splitlines(), 1):
            current = None
            for match in CITE.finditer(line):
                path, name = match.groups()
                if path is None and name is None:
                    continue
                current = path or current
                if current is not None:
                    found.append((doc.name, number, current, name))
    return found


def _defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def test_the_docs_cite_tests():
    assert len(_citations()) > 50  # the guarantees tables are found at all


@pytest.mark.parametrize("doc, line, path, name", _citations(), ids=lambda v: str(v))
def test_a_cited_test_exists(doc, line, path, name):
    file = ROOT / path
    assert file.is_file(), f"docs/{doc}:{line} cites {path}, which does not exist"
    if name is not None:
        assert name in _defined(file), f"docs/{doc}:{line} cites {path}::{name}, which is not defined there"
