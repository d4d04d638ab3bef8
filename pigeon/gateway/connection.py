"""One client socket as the gateway sees it."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from pigeon.common.protocol.closecodes import CloseCode
from pigeon.common.protocol.session import Session


@dataclass(frozen=True)
class CloseRequest:
    code: int
    reason: str


@dataclass(eq=False)
class Connection:
    """A socket's session state and the frames waiting to be written to it.

    Writes go through ``outbound`` so that a slow reader never blocks whoever pushes to it;
    a socket that falls ``max_pending`` frames behind is closed and will catch up by sync.
    """

    session: Session
    max_pending: int
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    user_id: int = 0
    device: str = ""
    auth_session_id: str = ""
    outbound: asyncio.Queue[str | CloseRequest] = field(default_factory=asyncio.Queue)
    closing: bool = False

    def send(self, text: str) -> bool:
        """Queue a frame; False if the connection is closing or was closed for lagging."""
        if self.closing:
            return False
        if self.outbound.qsize() >= self.max_pending:
            self.close(CloseCode.TOO_SLOW, "client is not reading fast enough")
            return False
        self.outbound.put_nowait(text)
        return True

    def close(self, code: int, reason: str, last_frame: str | None = None) -> None:
        """Queue an orderly close after the frames already queued (and ``last_frame``)."""
        if self.closing:
            return
        if last_frame is not None:
            self.outbound.put_nowait(last_frame)
        self.closing = True
        self.outbound.put_nowait(CloseRequest(code, reason))
