"""The fake Asterisk (AMI on loopback) used by tests, the demo and benchmarks.

Start here: `FakeAsterisk` (cti.sim.ami_server) serves AMI; its traffic comes
from `Scenario`/`CallFlow` (cti.sim.calls), scripted from templates cut out of
the real Asterisk 22 traces (cti.sim.extract -> cti.sim._templates).
"""

from cti.sim.ami_server import LAB_AGENTS, LAB_QUEUES, FakeAsterisk
from cti.sim.calls import AgentConfig, CallFlow, QueueConfig, Scenario, demo_scenario
from cti.sim.state import SimState
from cti.sim.traffic import Traffic

__all__ = [
    "LAB_AGENTS",
    "LAB_QUEUES",
    "AgentConfig",
    "CallFlow",
    "FakeAsterisk",
    "QueueConfig",
    "Scenario",
    "SimState",
    "Traffic",
    "demo_scenario",
]
