"""Pigeon: a distributed instant-messaging server.

Packages, from the wire inwards:

    client/    asyncio SDK for users and bots (HTTP + WebSocket)
    gateway/   WebSocket edge: moves frames between sockets and the session logic
    platform/  HTTP API edge (FastAPI): accounts, conversations, messages
    actions/   domain actions (``register_user``, ``send_message``...): one transaction each,
               events published only after commit
    worker/    background consumers (fan-out for groups, hot-group notices)
    bus/       routing: who is connected where, and each gateway's delivery queue
    storage/   SQL schema, migrations and queries (SQLite embedded, PostgreSQL in a cluster)
    common/    settings, errors, and the sans-I/O protocol (frames, codec, session)
"""

__version__ = "0.1.0"
