"""The kill campaign's driver, run by test_crash_campaign.py on SQLite and by
test_store_postgres.py on PostgreSQL."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys

from entra_pipeline.entities import RAW_ASSETS
from entra_pipeline.simulator.tenant import SimulatorError
from entra_pipeline.transform.maps import MAPS

from .conftest import connector_for
from .helpers import assert_inventory_is_the_truth

KILLS = int(os.environ.get("ENTRA_CRASH_KILLS", "52"))
DAGSTER_RECOVERY_EVERY = 8
SEED = int(os.environ.get("ENTRA_CRASH_SEED", "20261128"))
POINTS = (
    [f"graph:page#{n}" for n in range(1, 25)]
    + [f"raw:{asset}:written" for asset in RAW_ASSETS]
    + ["raw:all:written"]
    + [f"records:{entity}:written" for entity in MAPS]
    + [f"inventory:{entity}:mid-transaction" for entity in MAPS]
    + [f"deliver:{entity}:{when}" for entity in MAPS for when in ("before", "after-commit")]
    + ["delta:before-commit", "store:commit:mid-transaction"]
)


class ForkRunner:
    """Runs are forked from a helper that imported the pipeline once: a kill then costs the
    run's own work, not two seconds of imports (entra_pipeline_tests/fork_runner.py)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "entra_pipeline_tests.fork_runner"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def sync(self, home, connector: str, full: bool, kill_at: str, dagster: bool = False) -> int:
        if dagster:
            argv = ["sync", "--home", str(home), "--connector", connector, *(["--full"] if full else [])]
            request = {"argv": argv, "kill_at": kill_at}
        else:
            request = {"sync": {"home": str(home), "connector": connector, "full": full}, "kill_at": kill_at}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, "the fork runner died"
        return int(answer)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


def change_the_tenant(tenant, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 4)):
        try:
            _one_change(tenant, rng)
        except SimulatorError:  # e.g. adding a member that an earlier change soft-deleted
            pass


def _one_change(tenant, rng: random.Random) -> None:
    users, groups = list(tenant.users), list(tenant.groups)
    action = rng.randrange(6)
    if action == 0:
        user = tenant.create_user(displayName=f"New {rng.random():.8f}")
        tenant.add_member(rng.choice(groups), user["id"])
    elif action == 1:
        tenant.update_user(rng.choice(users), jobTitle=f"Title {rng.random():.6f}")
    elif action == 2:
        group = rng.choice(groups)
        members = tenant.live_members(group)
        if members:
            tenant.remove_member(group, rng.choice(list(members)))
    elif action == 3:
        tenant.update_group(rng.choice(groups), description=f"Changed {rng.random():.6f}")
    elif action == 4 and len(users) > 40:
        tenant.soft_delete(rng.choice(users))
    else:
        tenant.add_member(rng.choice(groups), rng.choice(users))


def campaign(make_sim, home, store: str) -> None:
    """The campaign on the store ENTRA_PIPELINE_STORE names (the home's SQLite file if unset)."""
    rng = random.Random(SEED)
    sim = make_sim(users=60, seed=41, delta_members_per_page=10)
    connector = connector_for(sim, home)
    sync = [sys.executable, "-m", "entra_pipeline.cli", "sync", "--home", str(home), "--connector", connector.name]
    kills, not_reached, rounds = [], 0, 0
    runner = ForkRunner()
    while len(kills) < KILLS:
        change_the_tenant(sim.tenant, rng)
        full = rng.random() < 0.3
        for _ in range(rng.randint(1, 3)):
            point = rng.choice(POINTS)
            code = runner.sync(home, connector.name, full, point)
            if code == -9:
                kills.append(point)
            else:  # the run ended before reaching the point (e.g. fewer pages): it must have succeeded
                assert code == 0, (point, code)
                not_reached += 1
            if rng.random() < 0.5:
                change_the_tenant(sim.tenant, rng)
        through_dagster = rounds % DAGSTER_RECOVERY_EVERY == DAGSTER_RECOVERY_EVERY - 1
        assert runner.sync(home, connector.name, False, "", dagster=through_dagster) == 0, kills[-3:]
        assert_inventory_is_the_truth(sim, home, connector)
        rounds += 1
    runner.close()
    quiet = subprocess.run(sync, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0
    changed = [int(n) for n in re.findall(r"(?:inserted|updated|deleted) (\d+)", quiet.stdout)]
    assert changed and set(changed) == {0}, quiet.stdout  # nothing doubled, nothing left to apply
    assert_inventory_is_the_truth(sim, home, connector)
    print(
        f"kill campaign on {store} (seed {SEED}): {len(kills)} kills at {len(set(kills))} distinct points, "
        f"{not_reached} points not reached, {rounds} recoveries checked against the truth"
    )
