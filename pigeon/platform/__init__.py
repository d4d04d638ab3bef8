"""The HTTP API edge (FastAPI). Routes parse, authorise the caller and call one action.

app.py        the ASGI app: API, WebSocket endpoint, health, metrics, web client
errors.py     every error as ``{"error": {"code", "message"}}`` with its status
deps.py       request dependencies: the action context and the authenticated caller
schemas.py    request bodies and response envelopes
webclient.py  the built web client: precompressed files from memory, cache headers
routes/       one module per resource
"""
