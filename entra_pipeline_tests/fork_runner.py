"""A helper process for kill campaigns: imports the pipeline once, then runs each request in a
child forked from itself (single-threaded, so forking is safe), and answers with the child's
exit code (-9 when it was SIGKILLed at its kill point).

Protocol: one JSON object per line on stdin, one exit code per line on stdout:
  {"argv": [...], "kill_at": "point"}     a CLI command (a Dagster run, as an operator's)
  {"sync": {"home": ..., "connector": ..., "full": bool}, "kill_at": "point"}
                                          the sync's own steps (entra_pipeline.sync.pipeline) bare
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

# imported once, here, for every child
from entra_pipeline import defs  # noqa: F401
from entra_pipeline.cli import commands as cli
from entra_pipeline.config import find_connector
from entra_pipeline.defs import runner  # noqa: F401
from entra_pipeline.store import open_store
from entra_pipeline.sync.cycles import BaselineCycles
from entra_pipeline.sync.pipeline import sync_steps


def sync_bare(home: str, connector: str, full: bool) -> int:
    """What the Dagster asset runs, without Dagster's run and event storage around it."""
    folder = Path(home)
    found = find_connector(folder, connector)
    store = open_store(folder)
    cycle = BaselineCycles(found, store).at(dt.datetime.now(dt.UTC)).key
    for _ in sync_steps(found, store, cycle, f"bare-{os.getpid()}", "baseline" if full else "auto"):
        pass
    return 0


def main() -> None:
    answers = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            os.environ["ENTRA_PIPELINE_KILL_AT"] = request.get("kill_at") or ""
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            try:
                code = sync_bare(**request["sync"]) if "sync" in request else cli.main(request["argv"])
            except BaseException:  # noqa: BLE001 - reported as the exit code
                code = 70
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        answers.write(f"{os.waitstatus_to_exitcode(status)}\n")
        answers.flush()


if __name__ == "__main__":
    main()
