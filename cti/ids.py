"""Identifier types shared by every layer.

Strategy: plain strings at run time, distinct types for mypy, so a channel
uniqueid can never be passed where a call id (Linkedid) is expected.
"""

from typing import NewType

__all__ = ["AgentLogin", "BridgeId", "CallId", "ChannelId", "Interface", "QueueName"]

ChannelId = NewType("ChannelId", str)  # AMI Uniqueid / ARI channel.id
CallId = NewType("CallId", str)  # AMI Linkedid: every channel of one call shares it
BridgeId = NewType("BridgeId", str)  # AMI BridgeUniqueid
QueueName = NewType("QueueName", str)
Interface = NewType("Interface", str)  # a device such as "PJSIP/1001"
AgentLogin = NewType("AgentLogin", str)
