"""AMI: the sans-I/O codec (protocol.py) and its asyncio shell (client.py)."""
