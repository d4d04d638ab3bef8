"""WebSocket close codes Pigeon uses (4000-4999 are application-defined)."""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    PROTOCOL_VIOLATION = 4000
    AUTH_FAILED = 4001
    AUTH_TIMEOUT = 4002
    REVOKED = 4003  # the device was logged out (its session revoked): do not reconnect
    HEARTBEAT_TIMEOUT = 4004
    TOO_MANY_CONNECTIONS = 4005  # the user is at gateway.max_connections_per_user
    RATE_LIMITED = 4008
    TOO_SLOW = 4009
