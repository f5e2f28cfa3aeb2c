"""Shared fixtures: simulators on free ports, and a Graph wire client that authenticates with
azure-identity and speaks real HTTPS trusting only the simulator's CA bundle."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from entra_pipeline.simulator import Simulator, SimulatorConfig, running_simulator

from .wire import Wire

# The modules whose tests take longest in all, longest first (seconds summed from
# `./dev test --durations=60` on a 2-core machine, issue #18). `./dev test` hands whole modules
# to its workers in collection order (`--dist loadfile --no-loadscope-reorder`): these go first,
# so the run does not end waiting for one of them started last.
# (The two live deployments, Dagster's and Celery's, do not start side by side.)
LONGEST_FIRST = (
    "test_live_dagster",
    "test_object_store",
    "test_faults",
    "test_store",
    "test_deploy_files",
    "test_distributed",
    "test_store_postgres",
    "test_edges",
    "test_crash_campaign",
    "test_delta",
    "test_operator",
    "test_inventory",
    "test_security",
    "test_hostile",
    "test_demo",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: position for position, name in enumerate(LONGEST_FIRST)}
    items.sort(
        key=lambda item: rank.get(item.module.__name__.rpartition(".")[2] if item.module else "", len(LONGEST_FIRST))
    )


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    """A shared simulator for read-only tests (do not mutate it: use `make_sim`)."""
    with running_simulator(users=300, seed=11) as simulator:
        yield simulator


@pytest.fixture(scope="session")
def wire(sim: Simulator) -> Iterator[Wire]:
    with Wire(sim.info) as client:
        yield client


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Simulator]]:
    """Start a simulator of one's own (mutations, faults, throttling); stopped after the test."""
    started: list[Simulator] = []

    def make(**settings) -> Simulator:
        simulator = Simulator(SimulatorConfig(**settings)).start()
        started.append(simulator)
        return simulator

    yield make
    for simulator in started:
        simulator.stop()


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh home folder; ENTRA_PIPELINE_KEY unset so the key file path is exercised."""
    monkeypatch.delenv("ENTRA_PIPELINE_KEY", raising=False)
    folder = tmp_path / "home"
    folder.mkdir(mode=0o700)
    return folder


def connector_for(sim: Simulator, home, name: str = "sim", save: bool = True, **overrides):
    """A connector pointed at a simulator, its secret stored encrypted in `home`."""
    from entra_pipeline.config import Connector, SecretBox, save_connector

    info = sim.info
    fields = dict(
        name=name,
        tenant_id=info.tenant_id,
        client_id=info.client_id,
        client_secret=SecretBox(home).encrypt(overrides.pop("secret", info.client_secret)),
        authority_host=info.authority_host,
        graph_endpoint=info.graph_endpoint,
        ca_bundle=info.ca_bundle,
        asset_types="identities_with_security_posture",
    )
    fields.update(overrides)
    connector = Connector(**fields)
    if save:
        save_connector(home, connector, replace=True)
    return connector
