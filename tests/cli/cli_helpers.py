"""Helpers of the command tests: run `cfxstore` in-process or as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from cfxstore.cli.main import cli

CFXSTORE = os.path.join(os.path.dirname(sys.executable), "cfxstore")


class Cli:
    """Runs `cfxstore ...` in-process; .json() parses stdout."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, env: dict | None = None):
        return self.runner.invoke(cli, list(args), input=input, env=env, catch_exceptions=False)

    def json(self, *args: str, **kw):
        result = self(*args, "--json", **kw)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


def subprocess_cli(*args: str, stdin: str | None = None, via_module: bool = False, env: dict | None = None,
                   timeout: float = 120) -> subprocess.CompletedProcess:
    """`cfxstore ...` as a real process (the console script, or python -m cfxstore.cli.main)."""
    command = [sys.executable, "-m", "cfxstore.cli.main"] if via_module else [CFXSTORE]
    return subprocess.run([*command, *args], input=stdin, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
