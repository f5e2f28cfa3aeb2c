"""Benchmarks (not part of the test suite): the connector against the simulator at realistic
settings, printing each figure beside the bound it should approach.

    .venv/bin/python benchmarks/bench.py --users 100000 --mode pipeline

Modes (each in a fresh process, so peak RSS and CPU belong to that mode alone):
  full      a full pull (users, groups, roles, ... with Identities with Security Posture)
  delta     a full pull and pipeline, then 1% of users and groups changed, then a delta pull
  pipeline  a full pull -> transform -> local inventory upload
  literal   the spec's per-object endpoints (graph/plan.py LiteralPlan) for the relationships

The simulator runs in its own process (`entra-pipeline simulator serve`), so the client's CPU
and RSS are ours alone; its own CPU share is read from its /_sim/stats.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import os
import pstats
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from entra_pipeline.config import Connector, SecretBox  # noqa: E402
from entra_pipeline.graph.client import GraphClient  # noqa: E402
from entra_pipeline.graph.collect import collect  # noqa: E402
from entra_pipeline.graph.plan import LiteralPlan  # noqa: E402
from entra_pipeline.store import open_store  # noqa: E402
from entra_pipeline.sync.pipeline import Started, sync_steps  # noqa: E402

BUDGET_RU_PER_SECOND = 800  # an L tenant: 8,000 RU per 10 s per app (graph.md §3)


class SimulatorProcess:
    def __init__(
        self, users: int, latency_ms: float, seed: int, state_dir: Path, tenant_profile: str = "realistic"
    ) -> None:
        # BENCH_SIMULATOR_ROOT: the tree whose simulator serves (measuring an older client,
        # copied into its own tree, against today's simulator and profile).
        root = Path(os.environ.get("BENCH_SIMULATOR_ROOT", ROOT))
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "entra_pipeline.cli",
                "simulator",
                "serve",
                "--port",
                "0",
                "--users",
                str(users),
                "--seed",
                str(seed),
                "--tenant-size",
                "L",
                "--latency-ms",
                str(latency_ms),
                "--json",
                "--state-dir",
                str(state_dir),
                "--profile",
                tenant_profile,
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        self.info = json.loads(self.process.stdout.readline())
        self.admin = httpx.Client(
            base_url=self.info["graph_endpoint"] + "/_sim", verify=self.info["ca_bundle"], timeout=600
        )

    def stats(self) -> dict:
        return self.admin.get("/stats").json()

    def reset_stats(self) -> None:
        self.admin.post("/stats/reset")

    def close(self) -> None:
        self.admin.close()
        self.process.terminate()
        self.process.wait(30)


def connector_for(info: dict, home: Path) -> Connector:
    return Connector(
        name="bench",
        tenant_id=info["tenant_id"],
        client_id=info["client_id"],
        client_secret=SecretBox(home).encrypt(info["client_secret"]),
        authority_host=info["authority_host"],
        graph_endpoint=info["graph_endpoint"],
        ca_bundle=info["ca_bundle"],
        asset_types="identities_with_security_posture",
    )


def longest_chain(stats: dict) -> int:
    """Requests that must follow one another: the pages of one listing. Per-object endpoints
    ({id} in the path) run side by side, so the longest chain is the busiest plain listing."""
    return max((e["requests"] for name, e in stats["endpoints"].items() if "{" not in name), default=0)


def delta_ru(stats: dict) -> int:
    return sum(
        e["resource_units"]
        for name, e in stats["endpoints"].items()
        if name.endswith(("/users/delta", "/groups/delta"))
    )


def usage() -> tuple[float, float]:
    self_ = resource.getrusage(resource.RUSAGE_SELF)
    return self_.ru_utime + self_.ru_stime, self_.ru_maxrss / 1024  # CPU s, peak RSS MiB (Linux: KiB)


def report(
    title: str, wall: float, cpu: float, stats: dict, latency_ms: float, users: int, literal_ru: int | None = None
) -> dict:
    _, peak = usage()
    ru, chain = stats["resource_units"], longest_chain(stats)
    budget = ru / BUDGET_RU_PER_SECOND
    serial = chain * latency_ms / 1000
    bound = max(budget, serial)
    # The plan-independent floor (issue #17): the budget, or the users listing's own chain of
    # pages, the one chain Graph cannot split cheaply.
    floor = max(budget, math.ceil(users / 999) * latency_ms / 1000)
    figures = {
        "mode": title,
        "users": users,
        "wall_s": round(wall, 2),
        "floor_s": round(floor, 2),
        "wall_over_floor": round(wall / floor, 2) if floor else None,
        "bound_s": round(bound, 2),
        "wall_over_bound": round(wall / bound, 2) if bound else None,
        "budget_part_s": round(budget, 2),
        "chain_part_s": round(serial, 2),
        "longest_chain": chain,
        "graph_requests": stats["graph_requests"],
        "resource_units": ru,
        "throttled_429": stats["throttled"],
        "client_cpu_s": round(cpu, 2),
        "peak_rss_mib": round(peak),
        "simulator_cpu_share": stats["cpu_share"],
        "simulator_cpu_s": stats["cpu_seconds"],
        "peak_ru_per_10s": stats.get("peak_ru_per_10s"),
        "ru_budget_per_10s": BUDGET_RU_PER_SECOND * 10,
    }
    if literal_ru is not None:
        figures["literal_ru"] = literal_ru
    return figures


def print_figures(figures: dict, per_endpoint: dict | None = None) -> None:
    print(json.dumps(figures))
    print(
        f"  {figures['mode']}: wall {figures['wall_s']} s vs bound {figures['bound_s']} s "
        f"(budget {figures['budget_part_s']} s = {figures['resource_units']} RU / {BUDGET_RU_PER_SECOND} RU/s; "
        f"chain {figures['chain_part_s']} s = {figures['longest_chain']} requests x latency) -> "
        f"{figures['wall_over_bound']} x bound",
        file=sys.stderr,
    )
    print(
        f"  requests {figures['graph_requests']}, 429s {figures['throttled_429']}, client CPU "
        f"{figures['client_cpu_s']} s, peak RSS {figures['peak_rss_mib']} MiB, simulator CPU share "
        f"{figures['simulator_cpu_share']}",
        file=sys.stderr,
    )
    for name, endpoint in sorted((per_endpoint or {}).items(), key=lambda kv: -kv[1]["resource_units"])[:12]:
        print(
            f"    {name:60} {endpoint['requests']:>7} req {endpoint['resource_units']:>8} RU "
            f"{endpoint['throttled']:>4} x 429",
            file=sys.stderr,
        )


STAGES: dict[str, tuple[float, float]] = {}  # stage -> (wall s, client CPU s)


def pipeline(connector: Connector, home: Path, full: bool) -> None:
    """The sync's own steps (what the Dagster asset runs), each step's wall and CPU time kept."""
    stages = iter(("pull", "transform", "upload"))
    cpu0, t0 = usage()[0], time.monotonic()
    for step in sync_steps(connector, open_store(home), "bench", "bench", "baseline" if full else "auto"):
        if isinstance(step, Started):
            cpu0, t0 = usage()[0], time.monotonic()
            continue
        STAGES[next(stages)] = (round(time.monotonic() - t0, 2), round(usage()[0] - cpu0, 2))
        cpu0, t0 = usage()[0], time.monotonic()


def change_one_percent(sim: SimulatorProcess, home: Path, seed: int) -> int:
    rng = random.Random(seed)
    store = open_store(home)
    users = [u["id"] for u in store.committed_objects("bench", "users")]
    groups = [g["id"] for g in store.committed_objects("bench", "groups")]
    changed = 0
    for user in rng.sample(users, max(1, len(users) // 100)):
        sim.admin.patch(f"/users/{user}", json={"department": f"Changed {rng.random():.6f}"}).raise_for_status()
        changed += 1
    for group in rng.sample(groups, max(1, len(groups) // 100)):
        sim.admin.patch(f"/groups/{group}", json={"description": f"Changed {rng.random():.6f}"}).raise_for_status()
        changed += 1
    return changed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=75.0, help="added per request (default 75)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--mode", choices=("full", "delta", "pipeline", "literal"), default="pipeline")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the measured run here (slows it)")
    # `--profile` already names the cProfile output (BENCHMARKS.md documents it), so the tenant's
    # shape is `--tenant-profile`; it is passed to `simulator serve --profile`.
    parser.add_argument(
        "--tenant-profile",
        choices=("classic", "realistic"),
        default="realistic",
        help="the simulated tenant's shape (default realistic; see docs/simulator.md)",
    )
    args = parser.parse_args()
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        try:
            return run(args)
        finally:
            profiler.disable()
            profiler.dump_stats(args.profile)
            pstats.Stats(str(args.profile)).sort_stats("tottime").print_stats(25)
    return run(args)


def run(args: argparse.Namespace) -> int:

    with tempfile.TemporaryDirectory(prefix="entra-bench-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        started = time.monotonic()
        sim = SimulatorProcess(args.users, args.latency_ms, args.seed, Path(tmp) / "sim", args.tenant_profile)
        print(
            f"simulator: {args.users} users, L tenant, {args.latency_ms} ms latency, ready in "
            f"{time.monotonic() - started:.1f} s",
            file=sys.stderr,
        )
        try:
            connector = connector_for(sim.info, home)
            if args.mode == "delta":
                # A full pipeline, then 1% changed, then a whole delta run (pull, records, upload):
                # both in this process, so the ratios compare like with like.
                cpu0 = usage()[0]
                pipeline(connector, home, full=True)
                full_cpu = usage()[0] - cpu0
                full_stages = dict(STAGES)
                full_stats = sim.stats()
                full_ru = full_stats["resource_units"]
                changed = change_one_percent(sim, home, args.seed)
                sim.reset_stats()
                cpu0, t0 = usage()[0], time.monotonic()
                pipeline(connector, home, full=False)
                figures = report(
                    "delta", time.monotonic() - t0, usage()[0] - cpu0, sim.stats(), args.latency_ms, args.users
                )
                delta_stats = sim.stats()
                figures.update(
                    changed_objects=changed,
                    full_pipeline_ru=full_ru,
                    delta_over_full_ru=round(figures["resource_units"] / full_ru, 4),
                    full_pipeline_cpu_s=round(full_cpu, 2),
                    delta_cpu_over_full_cpu=round(figures["client_cpu_s"] / full_cpu, 4),
                    users_groups_delta_ru=delta_ru(delta_stats),
                    users_groups_full_ru=delta_ru(full_stats),
                )
                figures.update({f"full_{stage}_wall_cpu_s": value for stage, value in full_stages.items()})
                figures.update({f"delta_{stage}_wall_cpu_s": value for stage, value in STAGES.items()})
                print_figures(figures, sim.stats()["endpoints"])
                return 0
            sim.reset_stats()
            cpu0, t0 = usage()[0], time.monotonic()
            if args.mode == "full":
                collect(connector, open_store(home), full=True)
            elif args.mode == "pipeline":
                pipeline(connector, home, full=True)
            else:

                async def literal() -> None:
                    async with GraphClient(connector, connector.secret(home)) as client:
                        await LiteralPlan(client).relationships()

                asyncio.run(literal())
            stats = sim.stats()
            figures = report(args.mode, time.monotonic() - t0, usage()[0] - cpu0, stats, args.latency_ms, args.users)
            figures.update({f"{stage}_wall_cpu_s": value for stage, value in STAGES.items()})
            print_figures(figures, stats["endpoints"])
        finally:
            sim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
