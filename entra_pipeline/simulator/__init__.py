"""A wire-faithful Microsoft Graph v1.0 + Entra token service over HTTPS, for tests,
benchmarks and the embedded default of the main job. See docs/simulator.md."""

from .faults import FaultRule, Faults
from .server import Simulator, SimulatorConfig, SimulatorInfo, running_simulator
from .tenant import SimulatorError, Tenant

__all__ = [
    "FaultRule",
    "Faults",
    "Simulator",
    "SimulatorConfig",
    "SimulatorError",
    "SimulatorInfo",
    "Tenant",
    "running_simulator",
]
