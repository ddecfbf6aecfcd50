"""The lowest-versions CI run tests exactly the lower bounds pyproject.toml declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*([0-9][0-9A-Za-z.]*)$")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _release(version: str) -> tuple[int, ...]:
    # "1.4" and "1.4.0" name the same lowest release.
    parts = [int(p) for p in version.split(".")]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def _lower_bounds() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        requirements += extra
    bounds = {}
    for requirement in requirements:
        match = REQUIREMENT.match(requirement.strip())
        if match:
            bounds[_normalise(match[1])] = match[2]
    return bounds


def _pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / ".ci" / "constraints-lowest.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[_normalise(name)] = version.strip()
    return pins


def test_every_lower_bound_is_pinned_in_the_lowest_run():
    bounds, pins = _lower_bounds(), _pins()
    assert bounds, "no >= requirements found in pyproject.toml"
    for name, bound in bounds.items():
        assert name in pins, f"{name} >= {bound} is not pinned in .ci/constraints-lowest.txt"
        assert _release(pins[name]) == _release(bound), f"{name}: pinned {pins[name]}, lower bound {bound}"
