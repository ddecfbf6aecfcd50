"""docs/management.md's table of integrity rules says what the record fields declare."""

from __future__ import annotations

import re
from pathlib import Path

from cfxstore.management.kinds import KINDS

MANAGEMENT_DOC = Path(__file__).resolve().parents[2] / "docs" / "management.md"
_ROW = re.compile(r"^\| (\w+)\.(\w+) \| (\w+) \| (refuse|cascade)\b")


def test_every_declared_reference_is_documented_with_its_delete_rule():
    documented = {m.groups() for line in MANAGEMENT_DOC.read_text(encoding="utf-8").splitlines()
                  if (m := _ROW.match(line))}
    declared = {(kind.name, ref.field, ref.target, ref.on_delete) for kind in KINDS.values() for ref in kind.refs}
    assert documented == declared
