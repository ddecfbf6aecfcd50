"""A benchmark's helper process, driven by command lines on its stdin and answering on its stdout."""

from __future__ import annotations

import subprocess
import sys


class LineChild:
    """``python -m module args...`` whose first line of output must start with ``expect``."""

    def __init__(self, module: str, args: list[str], expect: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", module, *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        self.first = self.proc.stdout.readline().strip()
        if not self.first.startswith(expect):
            self.close()
            raise RuntimeError(f"{module} did not start (said {self.first!r})")

    def command(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def ask(self, line: str) -> str:
        """Send a command and return the line it answers."""
        self.command(line)
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        """End its stdin (it stops by itself then) and wait; kill it if it does not."""
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
