"""Named points where a test can kill the pipeline process (SIGKILL, no cleanup), to prove
that a run killed anywhere and started again loses and doubles nothing.

Set ENTRA_PIPELINE_KILL_AT to a point name (e.g. "deliver:users:after-commit") to kill the
process the first time it reaches that point, or to "name#N" for the Nth time (e.g.
"graph:page#7": in the middle of the pull). Unset, a checkpoint costs one dict lookup.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV = "ENTRA_PIPELINE_KILL_AT"
_reached: Counter = Counter()


def checkpoint(name: str) -> None:
    wanted = os.environ.get(ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition("#")
    if point == name:
        _reached[name] += 1
        if _reached[name] >= int(nth or 1):
            os.kill(os.getpid(), signal.SIGKILL)
