"""Shared fixtures: simulators on free ports, and a Graph wire client that authenticates with
azure-identity and speaks real HTTPS trusting only the simulator's CA bundle."""

from __future__ import annotations

from typing import Callable, Iterator

import pytest

from entra_pipeline.simulator import Simulator, SimulatorConfig, running_simulator

from .wire import Wire


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
    fields = dict(name=name, tenant_id=info.tenant_id, client_id=info.client_id,
                  client_secret=SecretBox(home).encrypt(overrides.pop("secret", info.client_secret)),
                  authority_host=info.authority_host, graph_endpoint=info.graph_endpoint, ca_bundle=info.ca_bundle,
                  asset_types="identities_with_security_posture")
    fields.update(overrides)
    connector = Connector(**fields)
    if save:
        save_connector(home, connector, replace=True)
    return connector
