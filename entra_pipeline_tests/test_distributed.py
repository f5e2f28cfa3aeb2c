"""The Celery shape of docs/deploy.md, deployed on loopback and driven through the daemon:
PostgreSQL, Redis, `dagster dev` over dagster.celery.yaml with ENTRA_PIPELINE_EXECUTOR=celery,
and two Celery workers that share nothing with each other or the daemon but the database, the
broker and the object store (Azurite; see distributed.py). Two simulated tenants, two connectors, runs launched over
GraphQL; which worker ran a step, and when, is read back from each run's event log."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import signal
from dataclasses import dataclass

import dagster as dg
import pytest
from cryptography.fernet import Fernet
from dagster._core.instance.ref import InstanceRef

from entra_pipeline.defs.executor import QUEUE_TAG
from entra_pipeline.simulator import running_simulator
from entra_pipeline.store import open_store
from entra_pipeline.sync.cycles import BaselineCycles
from entra_pipeline.sync.status import StatusStore

from .conftest import connector_for
from .distributed import Deployment
from .helpers import assert_inventory_is_the_truth
from .live import LOCATION, REPOSITORY, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.deployment]

REPO_SELECTOR = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")
LEASE_TTL = 6  # seconds: the killed worker's lease expires within the test


@dataclass
class Tenant:
    name: str
    sim: object
    connector: object


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    home = root / "daemon-home"
    home.mkdir(mode=0o700)
    key = Fernet.generate_key().decode()
    with (
        pytest.MonkeyPatch.context() as patch,
        running_simulator(users=60, seed=31) as north,
        running_simulator(users=90, seed=32) as south,
    ):
        # connectors.yaml is configuration shipped with the code location: every worker gets a copy;
        # the key comes from the environment, as from a secret store (no secret.key file anywhere)
        patch.setenv("ENTRA_PIPELINE_KEY", key)
        tenants = {
            name: Tenant(name, sim, connector_for(sim, home, name=name))
            for name, sim in (("north", north), ("south", south))
        }
        assert not (home / "secret.key").exists()
        deployed = Deployment(root, home, {"ENTRA_PIPELINE_KEY": key, "ENTRA_PIPELINE_LEASE_TTL": str(LEASE_TTL)})
        patch.setenv("ENTRA_PIPELINE_STORE", deployed.env["ENTRA_PIPELINE_STORE"])
        # the test reads the instance as the daemon does (its file names $DAGSTER_HOME for local paths)
        for name, value in {**deployed.postgres.environment(), "DAGSTER_HOME": str(deployed.dagster_home)}.items():
            patch.setenv(name, value)
        try:
            deployed.wait_ready()
            yield deployed, tenants
        finally:
            deployed.stop()


def instance(deployed: Deployment) -> dg.DagsterInstance:
    if not hasattr(deployed, "instance"):
        deployed.instance = dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(deployed.dagster_home)))
    return deployed.instance


def launch(deployed: Deployment, tenant: Tenant, queue: str) -> str:
    """A delta-or-baseline run of the tenant's sync job, its steps sent to `queue`."""
    cycle = BaselineCycles(tenant.connector, open_store(deployed.home)).at(dt.datetime.now(dt.UTC)).key
    added = deployed.server.graphql(
        "mutation($repo: RepositorySelector!, $name: String!, $key: String!) { addDynamicPartition("
        "repositorySelector: $repo, partitionsDefName: $name, partitionKey: $key) { __typename } }",
        {"repo": REPO_SELECTOR, "name": f"{tenant.name}__baseline_cycles", "key": cycle},
    )["addDynamicPartition"]
    assert added["__typename"] in ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError"), added
    launched = deployed.server.graphql(
        "mutation($params: ExecutionParams!) { launchRun(executionParams: $params) { __typename "
        "... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }",
        {
            "params": {
                "selector": {**REPO_SELECTOR, "jobName": f"{tenant.name}__sync_job"},
                "runConfigData": {"ops": {f"{tenant.name}__sync": {"config": {"mode": "auto"}}}},
                "executionMetadata": {
                    "tags": [{"key": "dagster/partition", "value": cycle}, {"key": QUEUE_TAG, "value": queue}]
                },
            }
        },
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def finished(deployed: Deployment, run_id: str, timeout: float = 240) -> str:
    def status():
        run = instance(deployed).get_run_by_id(run_id)
        return run.status.value if run and run.status.value in FINISHED else None

    return wait_for(f"run {run_id} to finish", status, timeout=timeout, every=1)


@dataclass
class StepFacts:
    run_id: str
    tenant: str
    node: str | None  # the Celery worker dagster-celery says ran the step
    worker: str | None  # the step's own `worker` metadata (host, pid, cwd)
    started: float
    ended: float | None
    starts: int


def step_facts(deployed: Deployment, run_id: str) -> StepFacts:
    entries = instance(deployed).all_logs(run_id)
    events = [(e.timestamp, e.dagster_event) for e in entries if e.dagster_event is not None]
    step = next(event.step_key for _, event in events if event.step_key and event.step_key.endswith("__sync"))
    starts = [t for t, event in events if event.event_type == dg.DagsterEventType.STEP_START and event.step_key == step]
    ends = [
        t
        for t, event in events
        if event.step_key == step
        and event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE)
    ]
    nodes = [
        event.event_specific_data.metadata["Celery worker"].value
        for _, event in events
        if event.event_type == dg.DagsterEventType.ENGINE_EVENT
        and event.step_key == step
        and event.event_specific_data
        and "Celery worker" in (event.event_specific_data.metadata or {})
    ]
    workers = [
        event.event_specific_data.materialization.metadata["worker"].value
        for _, event in events
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        and "worker" in event.event_specific_data.materialization.metadata
    ]
    return StepFacts(
        run_id,
        step.removesuffix("__sync"),
        nodes[-1] if nodes else None,
        workers[-1] if workers else None,
        min(starts),
        max(ends) if ends else None,
        len(starts),
    )


def ran_on(deployed: Deployment, facts: StepFacts) -> str:
    """Which of our workers ran the step: Celery's node name, confirmed by the step's own cwd."""
    (name,) = [name for name, worker in deployed.workers.items() if worker.node == facts.node]
    assert facts.worker is not None and facts.worker.endswith(f"cwd {deployed.workers[name].cwd}"), facts
    return name


def committed(deployed: Deployment, connector: str) -> set[str]:
    store = open_store(deployed.home)
    return {
        f"{stage}/{f.name}.{f.token}.parquet"
        for stage in ("raw", "records")
        for f in store.committed_files(connector, stage).values()
    }


def assert_data_only_in_the_object_store(deployed: Deployment, tenants) -> None:
    """Every committed object is in the store and nothing else is; no disk holds snapshot data."""
    for name in tenants:
        assert deployed.objects(name) == committed(deployed, name), name
    for where in [deployed.home, *(worker.root for worker in deployed.workers.values())]:
        assert not list(where.rglob("*.parquet")), f"snapshot data on a disk: {list(where.rglob('*.parquet'))}"


def change(tenant: Tenant, round_: int) -> None:
    """Creates, updates, deletes and membership changes, different each round."""
    pick = random.Random(f"{tenant.name}-{round_}")
    users, groups = list(tenant.sim.tenant.users), list(tenant.sim.tenant.groups)
    newcomer = tenant.sim.tenant.create_user(displayName=f"Arrived in round {round_}")
    tenant.sim.tenant.add_member(pick.choice(groups), newcomer["id"])
    for user in pick.sample(users, 3):
        tenant.sim.tenant.update_user(user, department=f"Moved in round {round_}")
    tenant.sim.tenant.hard_delete(pick.choice(users))
    group = pick.choice(groups)
    members = [m for m in tenant.sim.tenant.members[group] if m in tenant.sim.tenant.users]
    if members:
        tenant.sim.tenant.remove_member(group, members[0])


def test_runs_alternate_workers_tenants_run_side_by_side_and_each_inventory_is_the_truth(deployment):
    deployed, tenants = deployment
    north, south = tenants["north"], tenants["south"]
    queue = {name: worker.queue for name, worker in deployed.workers.items()}
    history: dict[str, list[StepFacts]] = {"north": [], "south": []}
    for round_ in range(4):
        if round_:
            for tenant in tenants.values():
                change(tenant, round_)
        # north on a then b then a ..., south the other way round; the queue is only a request:
        # where each step ran is read back from the event log below
        plan = [(north, "ab"[round_ % 2]), (south, "ba"[round_ % 2])]
        side_by_side = round_ == 1
        if side_by_side:  # both steps are held mid-run until both are, so they overlap for sure
            for worker in deployed.workers.values():
                worker.close_gate()
        launched = [(tenant, launch(deployed, tenant, queue[worker])) for tenant, worker in plan]
        if round_ == 3:  # a second run of north at once: the deployment must keep it off north's running step
            launched.append((north, launch(deployed, north, queue["a"])))
        if side_by_side:
            wait_for(
                "both tenants' steps mid-run",
                lambda: all(w.reached() for w in deployed.workers.values()),
                timeout=180,
                every=0.5,
            )
            # the Celery executor claimed each tenant's pool slot (msgraph_<connector>, limit 1) for its step
            claimed = dict(
                deployed.postgres.query(
                    "SELECT concurrency_key, run_id FROM concurrency_slots WHERE run_id IS NOT NULL"
                )
            )
            assert claimed == {f"msgraph_{tenant.name}": run_id for tenant, run_id in launched}, claimed
            for worker in deployed.workers.values():
                worker.open_gate()
        for tenant, run_id in launched:
            assert finished(deployed, run_id) == "SUCCESS", step_facts(deployed, run_id)
            history[tenant.name].append(step_facts(deployed, run_id))
        for tenant in tenants.values():
            assert_inventory_is_the_truth(tenant.sim, deployed.home, tenant.connector)
        assert_data_only_in_the_object_store(deployed, tenants)
        if side_by_side:
            a, b = (history[name][-1] for name in ("north", "south"))
            assert a.started < b.ended and b.started < a.ended, (a, b)  # the two tenants overlapped

    for name, steps in history.items():
        steps.sort(key=lambda facts: facts.started)
        assert len(steps) == (5 if name == "north" else 4)
        workers = [ran_on(deployed, facts) for facts in steps]
        assert all(x != y for x, y in itertools.pairwise(workers)), (name, workers)
        assert all(facts.starts == 1 for facts in steps)
        # never two sync steps of one tenant at once, across workers and runs
        assert all(x.ended <= y.started for x, y in itertools.pairwise(steps)), (name, steps)
    # the connector's state as the run-status sensor records it, in the shared store
    assert wait_for("north's last run recorded", lambda: StatusStore(open_store(deployed.home), "north").read())


def failure_text(deployed: Deployment, run_id: str) -> str:
    """Every failure message of the run (step and run), as the UI shows them."""
    texts = []
    for entry in instance(deployed).all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.event_type not in (
            dg.DagsterEventType.STEP_FAILURE,
            dg.DagsterEventType.RUN_FAILURE,
            dg.DagsterEventType.ENGINE_EVENT,
        ):
            continue
        data = event.event_specific_data
        error = getattr(data, "error", None)
        texts += [event.message or "", error.to_string() if error else ""]
    return "\n".join(texts)


def test_a_step_process_killed_on_its_worker_fails_the_run_and_the_next_run_takes_over_on_the_other(deployment):
    """The step's process SIGKILLed mid-run under a live worker, as the out-of-memory killer does:
    Celery reports the task lost (task_reject_on_worker_lost off, so it is not run again), the run
    fails saying so, the dead step's lease is left behind and, the workers being machines apart
    (pid namespaces), expires only after its time to live; the next run, on the other worker,
    takes the connector over and ends with the inventory equal to the tenant."""
    deployed, tenants = deployment
    north = tenants["north"]
    victim, other = deployed.workers["a"], deployed.workers["b"]
    change(north, 10)
    victim.close_gate()
    try:
        killed = launch(deployed, north, victim.queue)
        wait_for("the step mid-run on worker a", victim.reached, timeout=180, every=0.3)
        holder, _ = open_store(deployed.home).lease_holder("north")
        assert holder is not None and holder.run_id == killed  # the step took the lease before it paused
        os.kill(victim.host_pid(holder.pid), signal.SIGKILL)  # the very process holding the lease
    finally:
        victim.open_gate()
    assert finished(deployed, killed) == "FAILURE"
    text = failure_text(deployed, killed)
    assert "WorkerLostError" in text and "signal 9" in text, text[-3000:]
    assert step_facts(deployed, killed).node == victim.node
    # the lost step never wrote the end event that frees its pool slot: the daemon frees it once
    # the run has ended (dagster.celery.yaml's free_slots_after_run_end_seconds), else every later
    # run of the tenant would wait in the queue for ever
    held = "SELECT COUNT(*) FROM {} WHERE run_id = %s"
    wait_for(
        "the killed run's pool slot to be freed",
        lambda: (
            sum(
                deployed.postgres.query(held.format(table), killed)[0][0]
                for table in ("concurrency_slots", "pending_steps")
            )
            == 0
        ),
        timeout=120,
        every=1,
    )
    assert deployed.postgres.query(
        "SELECT concurrency_key, \"limit\" FROM concurrency_limits WHERE concurrency_key = 'msgraph_north'"
    ) == [("msgraph_north", 1)]
    # a lease on another machine cannot be judged by its pid: it is left until its TTL passes
    holder, _ = open_store(deployed.home).lease_holder("north")
    assert holder is None or holder.run_id == killed
    wait_for(
        "the dead step's lease to expire",
        lambda: (lambda held: held[0] is None or held[1])(open_store(deployed.home).lease_holder("north")),
        timeout=LEASE_TTL * 5,
        every=0.5,
    )
    left = deployed.objects("north") - committed(deployed, "north")
    assert left, "the killed step had uploaded its raw objects, never committed"
    following = launch(deployed, north, other.queue)
    assert finished(deployed, following) == "SUCCESS", failure_text(deployed, following)
    assert ran_on(deployed, step_facts(deployed, following)) == "b"
    assert_inventory_is_the_truth(north.sim, deployed.home, north.connector)
    assert not deployed.objects("north") & left, "nothing the killed step wrote is left to be read as valid"
    assert_data_only_in_the_object_store(deployed, {"north": north})
    assert victim.process.poll() is None  # the worker itself lived on and serves the next step
    state = wait_for(
        "north's state after the takeover",
        lambda: (lambda s: s if s and s.run_id == following else None)(
            StatusStore(open_store(deployed.home), "north").read()
        ),
    )
    assert state.state == "Processed"
    # the Redis password is in no log the deployment wrote
    for log in [deployed.server.log_path, *(w.log_path for w in deployed.workers.values())]:
        assert deployed.redis.password not in log.read_text(errors="replace"), log


def test_a_worker_lost_whole_mid_run_is_failed_by_the_sensor_and_the_next_run_on_the_other_ends_true(deployment):
    """Every process of a worker SIGKILLed mid-run, as when its machine is lost: nothing reports
    the step lost (the broker keeps it unacknowledged until its visibility timeout), so the
    connector's lease is what tells: it expires after its time to live, the connector's
    lifecycle sensor marks the run failed naming the dead holder, the tenant's pool slot is
    freed once the run ended, and the next run, on the other worker, ends equal to the truth with
    nothing the lost step uploaded left in the object store."""
    deployed, tenants = deployment
    north = tenants["north"]
    victim, other = deployed.workers["b"], deployed.workers["a"]
    change(north, 20)
    victim.close_gate()
    try:
        lost = launch(deployed, north, victim.queue)
        wait_for("the step mid-run on worker b", victim.reached, timeout=180, every=0.3)
        victim.kill()
    finally:
        victim.open_gate()
    assert finished(deployed, lost, timeout=240) == "FAILURE"
    text = failure_text(deployed, lost)
    assert "stopped heartbeating" in text, text[-3000:]
    left = deployed.objects("north") - committed(deployed, "north")
    assert left, "the lost step had uploaded its raw objects, never committed"
    wait_for(
        "the lost run's pool slot to be freed",
        lambda: deployed.postgres.query("SELECT COUNT(*) FROM concurrency_slots WHERE run_id = %s", lost)[0][0] == 0,
        timeout=120,
        every=1,
    )
    following = launch(deployed, north, other.queue)
    assert finished(deployed, following) == "SUCCESS", failure_text(deployed, following)
    assert ran_on(deployed, step_facts(deployed, following)) == "a"
    assert_inventory_is_the_truth(north.sim, deployed.home, north.connector)
    assert not deployed.objects("north") & left
    assert_data_only_in_the_object_store(deployed, {"north": north})
