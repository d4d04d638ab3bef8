"""One client socket as the gateway sees it.

A gateway holds thousands of mostly idle sockets, so an idle one must cost little: the
class has slots, one deque for the frames to write, and no asyncio primitives until
someone has to wait (a future is made on demand and dropped once it is resolved). The
writer runs only while there is something to write (see endpoint.py).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pigeon.common.protocol.closecodes import CloseCode
from pigeon.common.protocol.session import Action, Close, Session, State


@dataclass(frozen=True, slots=True)
class CloseRequest:
    code: int
    reason: str


def frame_size(text: str) -> int:
    """Bytes ``text`` takes on the wire (cheap for the usual ASCII JSON)."""
    return len(text) if text.isascii() else len(text.encode())


def _wake(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


@dataclass(eq=False, slots=True)
class Connection:
    """A socket's identity and the frames waiting to be written to it.

    Writes go through ``outbound`` so that a slow reader never blocks whoever pushes to it.
    Its state is the session's: this class only carries out what the session decides, and
    tells it how many bytes wait unsent (the session bounds them; see session.py).
    ``on_output`` is called when ``outbound`` gets its first item (the socket starts its
    writer then), ``on_close`` once when the close is queued.
    """

    session: Session
    id: str = field(default_factory=lambda: secrets.token_hex(8))
    user_id: int = 0
    device: str = ""  # the device id: the login session (shared by a browser's tabs)
    kind: str = "web"  # the device's kind: web, desktop, mobile
    auth_session_id: str = ""
    outbound: deque[str | CloseRequest] = field(default_factory=deque)
    on_output: Callable[[], None] | None = None
    on_close: Callable[[], None] | None = None
    _closed: bool = False
    _room_waiter: asyncio.Future[None] | None = None
    _close_waiter: asyncio.Future[None] | None = None

    @property
    def closing(self) -> bool:
        return self.session.state is State.CLOSED

    @property
    def closed(self) -> bool:
        """The close frame is queued: nothing more goes out."""
        return self._closed

    def send(self, text: str) -> bool:
        """Queue a frame; False if the connection is closed (or this closed it, lagging).

        Frames the session answered with together with its close (an error before 4001)
        still go: they are queued before the close frame is."""
        if self._closed:
            return False
        self._put(text)
        self.carry_out(self.session.queued(frame_size(text), time.monotonic()))
        return not self._closed

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
                    self._put(last_frame)
                self._put(CloseRequest(action.code, action.reason))
                self._closed = True
                _wake(self._close_waiter)
                _wake(self._room_waiter)
                if self.on_close is not None:
                    self.on_close()

    async def wait_for_room(self) -> None:
        """Until the session wants input again, or the connection is closed."""
        while not (self.session.wants_input or self.closing or self._closed):
            self._room_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._room_waiter
            finally:
                self._room_waiter = None

    async def wait_closed(self) -> None:
        if self._closed:
            return
        if self._close_waiter is None:
            self._close_waiter = asyncio.get_running_loop().create_future()
        await asyncio.shield(self._close_waiter)

    def _put(self, item: str | CloseRequest) -> None:
        self.outbound.append(item)
        if len(self.outbound) == 1 and self.on_output is not None:
            self.on_output()

    def _discard_unsent(self) -> None:
        """Drop queued frames the client is not reading: it resyncs when it comes back."""
        while self.outbound:
            item = self.outbound.popleft()
            if isinstance(item, str):
                self.session.written(frame_size(item), time.monotonic())

    def _update_room(self) -> None:
        if self.session.wants_input or self.closing:
            _wake(self._room_waiter)
