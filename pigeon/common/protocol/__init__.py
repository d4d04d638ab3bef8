"""The WebSocket protocol, sans I/O: frames, their codec and the per-connection session.

Nothing here imports asyncio, sockets, Redis or SQL. Bytes and clock readings go in;
decoded requests, frames to send and close decisions come out. The gateway moves bytes.

    frames.py     every frame type, discriminated by its ``type`` field
    codec.py      text <-> frames, with an error code for each way a frame can be bad
    session.py    one connection's state machine: auth, heartbeat, limits
    ratelimit.py  token bucket used by the session
    closecodes.py WebSocket close codes
"""
