"""One WebSocket connection's protocol state, without I/O.

Theory of operation
-------------------
The gateway feeds the session every text frame (``receive``) and the passing of time
(``tick``); the session answers with a list of actions for the gateway to carry out:

* ``Reply(frame)``        send a frame to this client
* ``Authenticate(...)``   check a token (the session cannot: that needs the database);
                          the gateway then calls ``accept`` or ``reject``
* ``Dispatch(frame)``     an authenticated request for the domain layer
* ``Close(code, reason)`` send a close frame and stop (``discard_unsent``: drop what is
                          still queued first, for a client that is not reading it)

The session is the only owner of the connection's state: every close, whoever asks for it
(the client, a timer, a kick from another login, shutdown), goes through ``close`` or
one of the session's own decisions, and happens once. A late answer to ``Authenticate``
for a connection closed meanwhile (its auth deadline passed) is ignored, not an error.

Output is bounded in bytes. The gateway reports what it queues (``queued``) and what it
got written (``written``); while ``send_queue_bytes`` are unsent the session wants no input
(``wants_input``), so a client cannot pile up answers it does not read. A client whose
output stays full for ``send_stall_timeout_s``, or that has read nothing of it for the
heartbeat timeout, or whose output reaches twice the bound, is closed with 4009 / 4004.

States and the only legal transitions::

    AWAITING_AUTH --auth frame--> AUTHENTICATING --accept--> OPEN --close--> CLOSED
          |                             |--reject----------------------------^
          +--auth deadline / close----------------------------------------------^

Nothing the client says about who it is is believed: identity comes only from ``accept``,
which the gateway calls after verifying the token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from pigeon.common.protocol.closecodes import CloseCode
from pigeon.common.protocol.codec import FrameError, decode_client_frame, peek_ref
from pigeon.common.protocol.frames import (
    AuthFrame,
    ClientFrame,
    ErrorFrame,
    HelloFrame,
    PingFrame,
    PongFrame,
    ServerFrame,
    TypingFrame,
)
from pigeon.common.protocol.ratelimit import TokenBucket


class State(Enum):
    AWAITING_AUTH = "awaiting_auth"
    AUTHENTICATING = "authenticating"
    OPEN = "open"
    CLOSED = "closed"


_TRANSITIONS: dict[State, frozenset[State]] = {
    State.AWAITING_AUTH: frozenset({State.AUTHENTICATING, State.CLOSED}),
    State.AUTHENTICATING: frozenset({State.OPEN, State.CLOSED}),
    State.OPEN: frozenset({State.CLOSED}),
    State.CLOSED: frozenset(),
}


class IllegalTransition(RuntimeError):
    def __init__(self, current: State, wanted: State) -> None:
        super().__init__(f"cannot go from {current.value} to {wanted.value}")


@dataclass(frozen=True)
class Reply:
    frame: ServerFrame


@dataclass(frozen=True)
class Authenticate:
    token: str
    device: str


@dataclass(frozen=True)
class Dispatch:
    frame: ClientFrame


@dataclass(frozen=True)
class Close:
    code: CloseCode
    reason: str
    discard_unsent: bool = False


Action = Reply | Authenticate | Dispatch | Close


@dataclass(frozen=True)
class SessionLimits:
    auth_timeout_s: float = 5.0
    heartbeat_interval_s: float = 25.0
    heartbeat_timeout_s: float = 60.0
    max_frame_bytes: int = 64 * 1024
    rate_per_s: float = 30.0
    rate_burst: int = 200
    max_bad_frames: int = 20
    typing_interval_s: float = 1.0
    send_queue_bytes: int = 4 * 1024 * 1024
    send_stall_timeout_s: float = 10.0


@dataclass(slots=True)
class Session:
    """Protocol state of one connection. Feed it frames and time; carry out its actions.

    One lives as long as its socket, thousands per gateway: slots, and the typing clock
    only once the client has typed."""

    limits: SessionLimits
    opened_at: float
    state: State = State.AWAITING_AUTH
    bad_frames: int = 0
    refused_in_a_row: int = 0
    last_seen: float = 0.0
    _bucket: TokenBucket = field(init=False)
    _typing_at: dict[int, float] | None = None
    unsent_bytes: int = 0
    # Since when the output has been full / has had unsent bytes without any written.
    _full_since: float | None = None
    _stalled_since: float | None = None

    def __post_init__(self) -> None:
        self.last_seen = self.opened_at
        self._bucket = TokenBucket(self.limits.rate_per_s, self.limits.rate_burst, self.opened_at)

    # -- input -------------------------------------------------------------------------

    def receive(self, data: str | bytes, now: float) -> list[Action]:
        """Handle one frame from the client."""
        if self.state is State.CLOSED:
            return []
        self.last_seen = now
        if len(data) > self.limits.max_frame_bytes:
            return self._close(CloseCode.MESSAGE_TOO_BIG, "frame too big")
        if not self._bucket.take(now):
            return self._refuse_flood(data, now)
        self.refused_in_a_row = 0
        try:
            frame = decode_client_frame(data)
        except FrameError as exc:
            return self._bad_frame(exc.code, exc.message, exc.ref)
        return self._route(frame, now)

    def tick(self, now: float) -> list[Action]:
        """Enforce the auth deadline, the heartbeat timeout and the slow-reader limits."""
        if self.state is State.CLOSED:
            return []
        if self.state in (State.AWAITING_AUTH, State.AUTHENTICATING):
            if now - self.opened_at > self.limits.auth_timeout_s:
                return self._close(CloseCode.AUTH_TIMEOUT, "no auth frame in time")
        elif now - self.last_seen > self.limits.heartbeat_timeout_s:
            return self._close(CloseCode.HEARTBEAT_TIMEOUT, "heartbeat timeout")
        return self._check_output(now)

    def accept(self, hello: HelloFrame) -> list[Action]:
        """The gateway verified the token: the connection is open for requests.

        Nothing to do if the connection was closed while the token was being checked
        (auth deadline, shutdown): that close stands."""
        if self.state is State.CLOSED:
            return []
        self._move(State.OPEN)
        return [Reply(hello)]

    def reject(
        self,
        reason: str,
        code: str = "unauthorized",
        close_code: CloseCode = CloseCode.AUTH_FAILED,
    ) -> list[Action]:
        """The token did not verify, or the user may open no more sockets (ignored if the
        connection was closed meanwhile)."""
        if self.state is State.CLOSED:
            return []
        error = Reply(ErrorFrame(code=code, message=reason))
        return [error, *self._close(close_code, reason)]

    def close(self, code: CloseCode, reason: str) -> list[Action]:
        """Close from the server side (shutdown, replaced by another login...)."""
        return self._close(code, reason)

    # -- output ------------------------------------------------------------------------

    @property
    def wants_input(self) -> bool:
        """Whether the gateway should read the client's next frame now: not while its
        output is full (backpressure), and never after the close."""
        return self.state is not State.CLOSED and self.unsent_bytes < self.limits.send_queue_bytes

    def queued(self, size: int, now: float) -> list[Action]:
        """``size`` more bytes wait to be written to the client.

        Output may overshoot the bound a little (answers already on their way, pushes
        from others), but at twice the bound the client is closed at once: nothing it
        does not read may pin unbounded memory."""
        if self.unsent_bytes == 0:
            self._stalled_since = now
        self.unsent_bytes += size
        if self.state is State.CLOSED:
            return []
        if self.unsent_bytes >= 2 * self.limits.send_queue_bytes:
            return self._close_slow_reader("client is not reading fast enough")
        if self.unsent_bytes >= self.limits.send_queue_bytes and self._full_since is None:
            self._full_since = now
        return []

    def written(self, size: int, now: float) -> None:
        """``size`` bytes were written to the client (or dropped): its output moved."""
        self.unsent_bytes = max(0, self.unsent_bytes - size)
        self._stalled_since = now if self.unsent_bytes else None
        if self.unsent_bytes < self.limits.send_queue_bytes:
            self._full_since = None

    def _check_output(self, now: float) -> list[Action]:
        """A client that leaves its output full, or reads none of it for as long as the
        heartbeat timeout, is as good as gone (pinging without reading does not count)."""
        limits = self.limits
        if self._full_since is not None and now - self._full_since > limits.send_stall_timeout_s:
            return self._close_slow_reader("client is not reading fast enough")
        if (
            self._stalled_since is not None
            and now - self._stalled_since > limits.heartbeat_timeout_s
        ):
            self._move(State.CLOSED)
            return [Close(CloseCode.HEARTBEAT_TIMEOUT, "client is not reading", True)]
        return []

    def _close_slow_reader(self, reason: str) -> list[Action]:
        self._move(State.CLOSED)
        return [Close(CloseCode.TOO_SLOW, reason, discard_unsent=True)]

    # -- internals ---------------------------------------------------------------------

    def _route(self, frame: ClientFrame, now: float) -> list[Action]:
        if isinstance(frame, AuthFrame):
            if self.state is not State.AWAITING_AUTH:
                return self._bad_frame("already_authenticated", "already authenticated", None)
            self._move(State.AUTHENTICATING)
            return [Authenticate(frame.token, frame.device)]
        if self.state is not State.OPEN:
            ref = getattr(frame, "ref", None)
            return self._bad_frame("not_authenticated", "send an auth frame first", ref)
        if isinstance(frame, PingFrame):
            return [Reply(PongFrame(server_time=int(now * 1000)))]
        if isinstance(frame, TypingFrame):
            if self._typing_at is None:
                self._typing_at = {}
            last = self._typing_at.get(frame.conversation_id, -1e18)
            if now - last < self.limits.typing_interval_s:
                return []
            self._typing_at[frame.conversation_id] = now
        return [Dispatch(frame)]

    def _bad_frame(self, code: str, message: str, ref: str | None) -> list[Action]:
        self.bad_frames += 1
        if self.bad_frames > self.limits.max_bad_frames:
            return self._close(CloseCode.PROTOCOL_VIOLATION, "too many bad frames")
        return [Reply(ErrorFrame(ref=ref, code=code, message=message))]

    def _refuse_flood(self, data: str | bytes, now: float) -> list[Action]:
        """Answer each refused frame (with its ref, so the client can retry it) until the
        client has ignored ``rate_burst`` refusals in a row; then close."""
        self.refused_in_a_row += 1
        if self.refused_in_a_row > self.limits.rate_burst:
            return self._close(CloseCode.RATE_LIMITED, "flood")
        retry_ms = int(self._bucket.wait_time(now) * 1000) + 1
        error = ErrorFrame(
            ref=peek_ref(data), code="rate_limited", message="slow down", retry_after_ms=retry_ms
        )
        return [Reply(error)]

    def _close(self, code: CloseCode, reason: str) -> list[Action]:
        if self.state is State.CLOSED:
            return []
        self._move(State.CLOSED)
        return [Close(code, reason)]

    def _move(self, wanted: State) -> None:
        if wanted not in _TRANSITIONS[self.state]:
            raise IllegalTransition(self.state, wanted)
        self.state = wanted
