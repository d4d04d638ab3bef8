"""One client socket as the gateway sees it."""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field

from pigeon.common.protocol.closecodes import CloseCode
from pigeon.common.protocol.session import Action, Close, Session, State


@dataclass(frozen=True)
class CloseRequest:
    code: int
    reason: str


def frame_size(text: str) -> int:
    """Bytes ``text`` takes on the wire (cheap for the usual ASCII JSON)."""
    return len(text) if text.isascii() else len(text.encode())


@dataclass(eq=False)
class Connection:
    """A socket's identity and the frames waiting to be written to it.

    Writes go through ``outbound`` so that a slow reader never blocks whoever pushes to it.
    Its state is the session's: this class only carries out what the session decides, and
    tells it how many bytes wait unsent (the session bounds them; see session.py).
    """

    session: Session
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    user_id: int = 0
    device: str = ""
    auth_session_id: str = ""
    outbound: asyncio.Queue[str | CloseRequest] = field(default_factory=asyncio.Queue)
    _room: asyncio.Event = field(default_factory=asyncio.Event)
    _closed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self._room.set()

    @property
    def closing(self) -> bool:
        return self.session.state is State.CLOSED

    def send(self, text: str) -> bool:
        """Queue a frame; False if the connection is closed (or this closed it, lagging).

        Frames the session answered with together with its close (an error before 4001)
        still go: they are queued before the close frame is."""
        if self._closed.is_set():
            return False
        self.outbound.put_nowait(text)
        self.carry_out(self.session.queued(frame_size(text), time.monotonic()))
        self._update_room()
        return not self._closed.is_set()

    def written(self, text: str) -> None:
        """The writer got ``text`` onto the socket."""
        self.session.written(frame_size(text), time.monotonic())
        self._update_room()

    def close(self, code: int, reason: str, last_frame: str | None = None) -> None:
        """Close from the server side, through the session (a second close is a no-op);
        the close frame follows the frames already queued and ``last_frame``."""
        self.carry_out(self.session.close(CloseCode(code), reason), last_frame)

    def tick(self, now: float) -> list[Action]:
        """Let the session enforce its clocks; the actions are carried out and returned."""
        actions = self.session.tick(now)
        self.carry_out(actions)
        return actions

    def carry_out(self, actions: list[Action], last_frame: str | None = None) -> None:
        """Queue the close the session decided on, if it did (other actions are not
        this class's business)."""
        for action in actions:
            if isinstance(action, Close):
                if action.discard_unsent:
                    self._discard_unsent()
                if last_frame is not None:
                    self.outbound.put_nowait(last_frame)
                self.outbound.put_nowait(CloseRequest(action.code, action.reason))
                self._closed.set()
                self._room.set()

    async def wait_for_room(self) -> None:
        """Until the session wants input again, or the connection is closed."""
        await self._room.wait()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    def _discard_unsent(self) -> None:
        """Drop queued frames the client is not reading: it resyncs when it comes back."""
        while not self.outbound.empty():
            item = self.outbound.get_nowait()
            if isinstance(item, str):
                self.session.written(frame_size(item), time.monotonic())

    def _update_room(self) -> None:
        if self.session.wants_input or self.closing:
            self._room.set()
        else:
            self._room.clear()
