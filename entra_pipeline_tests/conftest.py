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
