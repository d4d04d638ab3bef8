"""Exceptions raised by the SDK."""

from __future__ import annotations


class ApiError(Exception):
    """The server refused a request: ``status`` (HTTP, or 0 for a frame) and ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ClientClosed(Exception):
    """The client was closed while a call was waiting."""


class Kicked(Exception):
    """The server closed this device's connection for good: ``reason`` is
    ``device_logged_out`` or ``session_revoked`` (close 4003), or ``too_many_connections``
    (the account is at its cap; close 4005)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
