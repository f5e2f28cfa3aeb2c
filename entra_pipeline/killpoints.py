"""Named points where a test can kill or pause the pipeline process, to prove that a run
killed anywhere and started again loses and doubles nothing, and to make races between runs
deterministic.

Set ENTRA_PIPELINE_KILL_AT to a point name (e.g. "deliver:users:after-commit") to kill the
process (SIGKILL, no cleanup) the first time it reaches that point, or to "name#N" for the
Nth time (e.g. "graph:page#7": in the middle of the pull).

Set ENTRA_PIPELINE_PAUSE_AT to "name=FOLDER" to pause there: the process creates
FOLDER/name.reached and waits until FOLDER/name.go exists (at most ten minutes), the first
time it reaches that point.
Unset, a checkpoint costs two dict lookups.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

ENV, PAUSE_ENV = "ENTRA_PIPELINE_KILL_AT", "ENTRA_PIPELINE_PAUSE_AT"
_reached: Counter[str] = Counter()
_paused: set[str] = set()


def checkpoint(name: str) -> None:
    wanted = os.environ.get(ENV)
    if wanted:
        point, _, nth = wanted.partition("#")
        if point == name:
            _reached[name] += 1
            if _reached[name] >= int(nth or 1):
                os.kill(os.getpid(), signal.SIGKILL)
    paused = os.environ.get(PAUSE_ENV)
    if paused:
        point, _, folder = paused.partition("=")
        if point == name and name not in _paused:  # once: a point inside a loop would pause again
            _paused.add(name)
            _pause(Path(folder), name.replace(":", "_"))


def _pause(folder: Path, name: str) -> None:
    (folder / f"{name}.reached").write_text(str(os.getpid()))
    deadline = time.monotonic() + 600
    while not (folder / f"{name}.go").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
