"""The layers of docs/architecture.md hold: import-linter's contracts (pyproject.toml) are kept, and
no function-level import hides an edge from them."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Imported inside functions because an installation may lack them (extras, or cfxdb for imports).
OPTIONAL = {"crossbar", "psycopg", "psycopg_pool", "numpy", "cfxdb", "zlmdb", "yaml"}
#: Imported inside functions because they import an optional dependency themselves (flatbuffers: numpy).
LOADS_OPTIONAL = {"flatbuffers"}
#: Imported inside functions because importing them has an effect: it installs Twisted's default reactor.
SIDE_EFFECT = {"twisted.internet.reactor"}


def test_imports_keep_the_contracts() -> None:
    lint = os.path.join(os.path.dirname(sys.executable), "lint-imports")
    run = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


class Module:
    def __init__(self, path: Path) -> None:
        rel = path.relative_to(ROOT).with_suffix("")
        self.path, self.is_package = path, path.name == "__init__.py"
        self.name = ".".join(rel.parts[:-1] if self.is_package else rel.parts)
        self.lines = path.read_text().splitlines()
        self.tree = ast.parse("\n".join(self.lines))

    def imported(self, node: ast.Import | ast.ImportFrom) -> list[str]:
        """The modules (or module attributes) node imports, absolute."""
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = self.name.split(".") if self.is_package else self.name.split(".")[:-1]
        parts = base[:len(base) - node.level + 1] if node.level else []
        module = ".".join(parts + ([node.module] if node.module else []))
        return [module] + [f"{module}.{a.name}" for a in node.names]

    def at_import_time(self) -> list[ast.Import | ast.ImportFrom]:
        """Imports run when the module is imported (outside functions and TYPE_CHECKING blocks)."""
        found: list[ast.Import | ast.ImportFrom] = []

        def walk(body: list[ast.stmt]) -> None:
            for node in body:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found.append(node)
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                    continue
                else:
                    for field in ("body", "orelse", "finalbody", "handlers"):
                        walk(getattr(node, field, None) or [])
        walk(self.tree.body)
        return found

    def in_functions(self) -> list[ast.Import | ast.ImportFrom]:
        found = {}
        for fn in ast.walk(self.tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, (ast.Import, ast.ImportFrom)):
                        found[node.lineno] = node
        return [found[line] for line in sorted(found)]

    def commented(self, node: ast.stmt) -> bool:
        """A comment on the import, on another import of its block, or on the line above the block."""
        first = last = node.lineno - 1
        while first > 0 and self.lines[first - 1].lstrip().startswith(("import ", "from ")):
            first -= 1
        while last + 1 < len(self.lines) and self.lines[last + 1].lstrip().startswith(("import ", "from ")):
            last += 1
        block = self.lines[first:last + 1] + ([self.lines[first - 1]] if first else [])
        return any("#" in line for line in block)


def _modules() -> dict[str, Module]:
    modules = [Module(p) for top in ("orm", "cfxstore") for p in sorted((ROOT / top).rglob("*.py"))]
    return {m.name: m for m in modules}


def _needing_optional(modules: dict[str, Module]) -> set[str]:
    """Our modules whose import imports an optional dependency, directly or through another of ours."""
    needs = {name for name, m in modules.items()
             if any(t.split(".")[0] in OPTIONAL for n in m.at_import_time() for t in m.imported(n))}
    grew = True
    while grew:
        before = len(needs)
        needs |= {name for name, m in modules.items()
                  if any(t in needs for n in m.at_import_time() for t in m.imported(n))}
        grew = len(needs) > before
    return needs


def test_function_level_imports_are_only_for_optional_dependencies() -> None:
    modules = _modules()
    heavy = _needing_optional(modules)

    def allowed(target: str) -> bool:
        return (target.split(".")[0] in OPTIONAL | LOADS_OPTIONAL or target in heavy
                or target in SIDE_EFFECT)

    wrong = []
    for m in modules.values():
        for node in m.in_functions():
            targets = m.imported(node)
            if isinstance(node, ast.Import):
                ok = all(allowed(t) for t in targets)
            else:  # "from package import name": the package itself, or each name, may be what needs it
                ok = allowed(targets[0]) or all(allowed(t) for t in targets[1:])
            where = f"{m.path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}"
            if not ok:
                wrong.append(f"{where} (import it at the top of the module)")
            elif not m.commented(node):
                wrong.append(f"{where} (say in a comment why it is imported here)")
    assert not wrong, "function-level imports:\n" + "\n".join(wrong)


def test_the_import_check_sees_through_relative_imports() -> None:
    modules = _modules()
    engine = modules["orm.engine"]
    postgres = next(n for n in engine.in_functions() if "postgres" in ast.unparse(n))
    assert engine.imported(postgres)[0] == "orm.engine.postgres"
    assert "orm.engine.postgres" in _needing_optional(modules)
