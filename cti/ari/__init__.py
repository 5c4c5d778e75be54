"""Our thin, typed ARI client: `events` (pure codec), `rest` (httpx), `stream` (WebSocket intake).

Importing the package loads nothing: the pure model imports `cti.ari.events`
and must not pull httpx or websockets in with it.
"""
