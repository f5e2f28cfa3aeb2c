"""N tenants synced on 1 and on 2 Celery workers: the Celery shape of docs/deploy.md deployed on
loopback (PostgreSQL, Redis, Azurite, `dagster dev` over dagster.celery.yaml; the test harness
entra_pipeline_tests/distributed.py), each tenant a simulator with Graph's latency, every
tenant's baseline launched at once through GraphQL onto the shared queue.

    .venv/bin/python benchmarks/distributed.py [--tenants 4] [--users 2000] [--latency-ms 50]

Printed per worker count: the wall time from the first step's start to the last step's end, and
per tenant its step's length, the RU Graph admitted, its busiest 10 s against its budget, and
its 429s. Both worker counts are measured in this one run, on the same tenants (each
deployment syncs them in full: a fresh store), so the figure is their ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cryptography.fernet import Fernet  # noqa: E402

from entra_pipeline.simulator import Simulator, SimulatorConfig  # noqa: E402
from entra_pipeline.simulator.throttle import LIMITS  # noqa: E402
from entra_pipeline_tests.conftest import connector_for  # noqa: E402
from entra_pipeline_tests.distributed import Deployment  # noqa: E402
from entra_pipeline_tests.test_distributed import Tenant, finished, launch, step_facts  # noqa: E402


def measure(tenants: list[Simulator], workers: tuple[str, ...], scratch: Path) -> tuple[float, list[dict]]:
    root = scratch / f"{len(workers)}-workers"
    home = root / "home"
    home.mkdir(parents=True, mode=0o700)
    os.environ["ENTRA_PIPELINE_KEY"] = key = Fernet.generate_key().decode()
    named = [Tenant(f"t{i}", sim, connector_for(sim, home, name=f"t{i}")) for i, sim in enumerate(tenants)]
    deployed = Deployment(root, home, {"ENTRA_PIPELINE_KEY": key}, workers=workers)
    os.environ["ENTRA_PIPELINE_STORE"] = deployed.env["ENTRA_PIPELINE_STORE"]
    os.environ.update({**deployed.postgres.environment(), "DAGSTER_HOME": str(deployed.dagster_home)})
    try:
        deployed.wait_ready()
        for sim in tenants:
            sim.reset_stats()
        runs = [(tenant, launch(deployed, tenant, "dagster")) for tenant in named]
        rows = []
        for tenant, run_id in runs:
            assert finished(deployed, run_id, timeout=1800) == "SUCCESS", run_id
            facts = step_facts(deployed, run_id)
            stats = tenant.sim.stats()
            rows.append(
                {
                    "tenant": tenant.name,
                    "started": facts.started,
                    "ended": facts.ended,
                    "ru": stats["resource_units"],
                    "peak": stats["peak_ru_per_10s"],
                    "budget": LIMITS[tenant.sim.throttle.size],
                    "throttled": stats["throttled"],
                }
            )
        wall = max(r["ended"] for r in rows) - min(r["started"] for r in rows)
        return wall, rows
    finally:
        deployed.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    sims = [
        Simulator(SimulatorConfig(users=args.users, seed=100 + i, latency_ms=args.latency_ms)).start()
        for i in range(args.tenants)
    ]
    try:
        with tempfile.TemporaryDirectory() as scratch:
            results = {count: measure(sims, ("a", "b")[:count], Path(scratch)) for count in (1, 2)}
    finally:
        for sim in sims:
            sim.stop()
    print(
        f"{args.tenants} tenants x {args.users} users, {args.latency_ms:.0f} ms Graph latency; baselines launched at once"
    )
    for count, (wall, rows) in results.items():
        print(f"\n{count} worker(s): wall {wall:.1f} s (first step start to last step end)")
        print(f"{'tenant':<8} {'step s':>7} {'RU':>7} {'peak RU/10 s':>13} {'budget':>7} {'429s':>5}")
        for r in rows:
            print(
                f"{r['tenant']:<8} {r['ended'] - r['started']:>7.1f} {r['ru']:>7} {r['peak']:>13} {r['budget']:>7} "
                f"{r['throttled']:>5}"
            )
    print(f"\nwall on 1 worker / on 2 workers: {results[1][0] / results[2][0]:.2f}")


if __name__ == "__main__":
    main()
