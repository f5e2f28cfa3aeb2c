"""Named points where a test can kill the pipeline process (SIGKILL, no cleanup), to prove
that a run killed anywhere and started again loses and doubles nothing.

Set ENTRA_PIPELINE_KILL_AT to a point name (e.g. "deliver:users:after-commit"); the process
kills itself the first time it reaches that point. Unset, a checkpoint costs one dict lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "ENTRA_PIPELINE_KILL_AT"


def checkpoint(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
