"""What keeping the snapshot in an object store costs a run, against a local data folder: the
same tenant synced (a full run, then a delta run with a few changes) by `entra-pipeline sync`
processes with ENTRA_PIPELINE_DATA unset and set to Azurite (abfs:// over verified HTTPS on
loopback), each in a home of its own, in this one run.

    .venv/bin/python benchmarks/object_store.py [--users 5000]

Needs Azurite (./dev test installs it in tools/azurite). Loopback has no network latency: the
figure is the client's own cost of the object store (spooling, uploads, reads back), the floor
of what a real storage account adds.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from entra_pipeline.simulator import running_simulator  # noqa: E402
from entra_pipeline_tests.azurite import Azurite  # noqa: E402
from entra_pipeline_tests.conftest import connector_for  # noqa: E402


def timed_sync(home: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "entra_pipeline.cli", "sync", "--connector", "bench", "--home", str(home)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0 and "Processed" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=5000)
    args = parser.parse_args()
    server = Azurite().start()
    rows = []
    try:
        with running_simulator(users=args.users, seed=5) as sim, tempfile.TemporaryDirectory() as scratch:
            for label, env in (("local folder", {}), ("Azurite (abfs://)", server.environment("bench"))):
                home = Path(scratch) / label.split()[0]
                home.mkdir(mode=0o700)
                os.environ.pop("ENTRA_PIPELINE_KEY", None)
                connector_for(sim, home, name="bench")
                full = timed_sync(home, env)
                t = sim.tenant
                for user in list(t.users)[:20]:
                    t.update_user(user, department=f"Changed {label}")
                delta = timed_sync(home, env)
                rows.append((label, full, delta))
        stored = server.blobs("bench/")
    finally:
        server.stop(keep=False)
    print(f"{args.users} users; wall time of `entra-pipeline sync` (process start included)")
    print(f"{'data location':<20} {'full run':>10} {'delta run':>10}")
    for label, full, delta in rows:
        print(f"{label:<20} {full:>9.2f}s {delta:>9.2f}s")
    (_, local_full, local_delta), (_, remote_full, remote_delta) = rows
    print(
        f"ratio object store / local: full {remote_full / local_full:.2f}, delta {remote_delta / local_delta:.2f}; "
        f"{len(stored)} objects committed in the store"
    )


if __name__ == "__main__":
    main()
