"""The pure core: domain events in, outputs out. No I/O in this package."""

from cti.model.events import DomainEvent
from cti.model.from_ami import from_ami
from cti.model.model import Model
from cti.model.outputs import Output

__all__ = ["DomainEvent", "Model", "Output", "from_ami"]
