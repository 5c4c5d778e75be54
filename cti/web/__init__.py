"""The web edge: FastAPI app (`app.create_app`), WebSocket hub (`hub.Hub`), login tokens
(`auth`), API schemas (`schemas`), the ports it needs from the rest of the CTI
(`ports`), the WebSocket event catalogue (`catalogue`) and the agent page (`static/`).

Nothing is imported here, so `cti.web.hub` can be used without loading FastAPI.
"""
