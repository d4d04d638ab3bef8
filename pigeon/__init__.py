"""Pigeon: a distributed instant-messaging server.

Packages, from the wire inwards:

    client/    asyncio SDK for users and bots (HTTP + WebSocket)
    gateway/   WebSocket edge: moves frames between sockets and the session logic
    platform/  HTTP API edge (FastAPI): accounts, conversations, messages
    actions/   domain actions (``register_user``, ``send_message``...): one transaction each,
               publications published only after commit, by the one publisher
    worker/    background consumers: fan-out of group messages (hot groups by read stub),
               republishing lost hand-offs, presence, sweeping dead gateways
    bus/       routing: publications, the fan-out queue, who is connected where, read
               stubs, and each gateway's delivery queue
    storage/   SQL schema, migrations and queries (SQLite embedded, PostgreSQL in a cluster)
    common/    settings, errors, and the sans-I/O protocol (frames, codec, session)
"""

__version__ = "0.1.0"
