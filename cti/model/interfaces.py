"""Device interfaces: from channel names, and the registry of agent devices.

Strategy: a channel name is its device interface plus a unique suffix
("PJSIP/1002-00000009", "Local/2000@agents-sim-0000001;1"). A queue member's
interface may carry dial options ("Local/2000@agents-sim/n"). Both reduce to
one key ("PJSIP/1002", "Local/2000@agents-sim"), and the registry maps that key
back to the interface the agent is known by, so a pop for a dialed Local
channel reaches the agent registered as "Local/2000@agents-sim/n".
"""

from __future__ import annotations

from cti.ids import Interface

__all__ = ["DeviceRegistry", "device_key", "interface_of_channel"]


def interface_of_channel(name: str) -> Interface:
    """ "PJSIP/1002-00000009" -> "PJSIP/1002"; Local ";1"/";2" halves alike."""
    base, semi, _half = name.rpartition(";")
    if not semi:
        base = name
    head, dash, tail = base.rpartition("-")
    if dash and head and tail and "/" in head:
        return Interface(head)
    return Interface(base)


def device_key(interface: str) -> str:
    """Drop Local dial options: "Local/2000@ctx/n" -> "Local/2000@ctx"."""
    tech, slash, rest = interface.partition("/")
    if slash and tech.lower() == "local" and "/" in rest:
        return f"{tech}/{rest.partition('/')[0]}"
    return interface


class DeviceRegistry:
    """The interfaces that belong to agents (configured, or learned from queues)."""

    __slots__ = ("_by_key",)

    def __init__(self) -> None:
        self._by_key: dict[str, Interface] = {}

    def add(self, interface: str) -> None:
        key = device_key(interface)
        # A member interface with options beats a bare configured one.
        if key not in self._by_key or interface != key:
            self._by_key[key] = Interface(interface)

    def resolve(self, interface: str) -> Interface | None:
        """The registered interface for a device, or None when it is no agent's."""
        return self._by_key.get(device_key(interface))

    def __contains__(self, interface: object) -> bool:
        return isinstance(interface, str) and device_key(interface) in self._by_key

    def __len__(self) -> int:
        return len(self._by_key)
