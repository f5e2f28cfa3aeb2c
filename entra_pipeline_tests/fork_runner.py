"""A helper process for kill campaigns: imports the pipeline once, then runs each requested
CLI command in a child forked from itself (single-threaded, so forking is safe), and answers
with the child's exit code (-9 when it was SIGKILLed at its kill point).

Protocol: one JSON object per line on stdin, {"argv": [...], "kill_at": "point"}; one exit
code per line on stdout.
"""

from __future__ import annotations

import json
import os
import sys

from entra_pipeline import cli, defs, runner  # noqa: F401 - imported once, here, for every child


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
                code = cli.main(request["argv"])
            except BaseException:  # noqa: BLE001 - reported as the exit code
                code = 70
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        answers.write(f"{os.waitstatus_to_exitcode(status)}\n")
        answers.flush()


if __name__ == "__main__":
    main()
