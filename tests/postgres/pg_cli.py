"""What the command tests on PostgreSQL share: the CLI runner, the database factories, a schema factory."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pytest

import pg

_TESTS = Path(__file__).resolve().parent.parent
for _helpers in ("cli", "migrate"):
    if str(_TESTS / _helpers) not in sys.path:
        sys.path.insert(0, str(_TESTS / _helpers))

from cli_helpers import Cli, subprocess_cli  # noqa: E402
from store_factories import populate, version_of  # noqa: E402

__all__ = ["Cli", "subprocess_cli", "populate", "version_of", "records", "new_schemas"]


def records(run: Cli, source: str) -> list[str]:
    """The record lines of `cfxstore db dump SOURCE --include-secrets` (the header names the source: left out)."""
    result = run("db", "dump", source, "--include-secrets")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "cfxstore-dump"
    return lines[1:]


@pytest.fixture
def new_schemas():
    """A factory of URLs of fresh schemas, dropped after the test; skips when PostgreSQL is unreachable."""
    reason = pg.unreachable()
    if reason:
        pytest.skip(reason)
    made: set[str] = set()

    def make() -> str:
        schema = "t_" + uuid.uuid4().hex[:24]
        made.add(schema)
        return pg.url_for(schema)

    yield make
    pg.drop_schemas(made)
