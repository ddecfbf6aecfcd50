"""The test PostgreSQL server: its URL, whether it answers, and a private schema per test."""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from typing import Any, Callable, Iterator

#: Where tests find PostgreSQL (trust auth); a database per run is not needed, a schema per test is.
URL = os.environ.get("CFXSTORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@lru_cache(maxsize=1)
def unreachable() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None if it can."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed (pip install 'cfxstore[postgres]')"
    try:
        with psycopg.connect(URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        from orm.engine.pgurl import redact, scrub
        return f"PostgreSQL at {redact(URL)} (CFXSTORE_TEST_PG) is unreachable: {scrub(str(exc).strip(), URL)}"
    return None


def schema_for(path: str) -> str:
    """A schema name derived from a local path, so each test's tmp_path is its own database."""
    return "t_" + hashlib.sha1(os.path.realpath(path).encode()).hexdigest()[:24]


def url_for(schema: str) -> str:
    return f"{URL}{'&' if '?' in URL else '?'}schema={schema}"


def drop_schemas(schemas: set[str]) -> None:
    import psycopg

    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("SET lock_timeout = 5000")  # a test that failed may leave a transaction open
        for s in schemas:
            try:
                conn.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')
            except psycopg.errors.LockNotAvailable:
                pass


def private_url() -> Iterator[str]:
    """For a fixture: the URL of a new schema of its own, dropped afterwards (skips if unreachable)."""
    import uuid

    import pytest

    reason = unreachable()
    if reason:
        pytest.skip(reason)
    schema = "t_" + uuid.uuid4().hex[:24]
    yield url_for(schema)
    drop_schemas({schema})


def on_postgres(url: str) -> Callable[[Any], None]:
    """A node config edit: every "path": "cfxstore-db" (the node's own database) becomes url."""
    def edit(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "path" and value == "cfxstore-db":
                    node[key] = url
                else:
                    edit(value)
        elif isinstance(node, list):
            for item in node:
                edit(item)
    return edit
