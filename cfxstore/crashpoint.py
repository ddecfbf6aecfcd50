"""Named points where a test may have the process killed (SIGKILL), to prove atomicity.

Only tests set CFXSTORE_CRASH_AT (to a point's name); in normal runs each
point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "CFXSTORE_CRASH_AT"


def reached(name: str) -> None:
    """Die here, as a power cut or an OOM kill would, if the environment asks for it."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
