"""The user-side client: HTTP for accounts and history, one WebSocket for everything live."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Self
from urllib.parse import quote

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pigeon.client._errors import ApiError, ClientClosed, Kicked
from pigeon.client._inbox import Message, OrderedInbox
from pigeon.common.protocol.ratelimit import TokenBucket

Frame = dict[str, Any]
WsConnect = Callable[[str], Awaitable[ClientConnection]]
BACKLOG_FRAMES = 10_000


# A pull that failed for these reasons (or timed out) is tried again; PULL_ATTEMPTS in a
# row failing drops the socket, whose reconnect pulls whatever is behind.
RETRIED_CODES = frozenset({"internal", "unavailable", "rate_limited"})
PULL_ATTEMPTS = 3


class PigeonClient:
    """One device of one user.

    After :meth:`connect`, the client keeps a socket open, reconnects with backoff when it
    drops, and after every (re)connect pulls whatever it missed, so :meth:`next_message`
    yields every message of every conversation exactly once and in seq order.
    """

    def __init__(
        self,
        base_url: str,
        *,
        device: str = "web",
        ws_url: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        ws_connect: WsConnect | None = None,
        send_timeout: float = 10.0,
        send_attempts: int = 5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.device = device
        self.ws_url = ws_url or self.base_url.replace("http", "ws", 1) + "/ws"
        # Without a fixed ws_url, and after losing a gateway, ask the API for a live one.
        self._discover = ws_url is None
        self.send_timeout = send_timeout
        self.send_attempts = send_attempts
        self.user_id = 0
        self.user: dict[str, Any] = {}
        self.access_token = ""
        self.refresh_token = ""
        self.messages: dict[int, list[Message]] = {}
        self.inbox = OrderedInbox()
        self.kicked: str | None = None
        self.reconnects = 0
        self._http = httpx.AsyncClient(
            base_url=self.base_url + "/api/v1", transport=transport, timeout=30
        )
        self._ws_connect: WsConnect = ws_connect or (lambda url: connect(url, max_size=2**22))
        self._ws: ClientConnection | None = None
        self._runner: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closed = False
        self._pending: dict[str, asyncio.Future[Frame]] = {}
        self._new: asyncio.Queue[Message] = asyncio.Queue()
        self._backlog: deque[Frame] = deque(maxlen=BACKLOG_FRAMES)
        self._arrived = asyncio.Condition()
        self._pulling: dict[int, asyncio.Task[None]] = {}
        self._pull_again: set[int] = set()
        self._own_refs: set[str] = set()
        self._hello: Frame = {}
        self._pace: TokenBucket | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    @property
    def last_seq(self) -> dict[int, int]:
        return self.inbox.last_seq

    # -- accounts ------------------------------------------------------------------------

    async def register(self, username: str, password: str, nickname: str = "") -> Frame:
        body = {"username": username, "password": password, "device": self.device}
        if nickname:
            body["nickname"] = nickname
        # A 401 here is about the credentials, never a stale token: no refresh and retry.
        data = await self.request("POST", "/auth/register", json=body, retry_auth=False)
        return self._keep_tokens(data)

    async def login(self, username: str, password: str) -> Frame:
        body = {"username": username, "password": password, "device": self.device}
        data = await self.request("POST", "/auth/login", json=body, retry_auth=False)
        return self._keep_tokens(data)

    async def refresh(self) -> Frame:
        data = await self.request(
            "POST", "/auth/refresh", json={"refresh_token": self.refresh_token}, retry_auth=False
        )
        return self._keep_tokens(data)

    def _keep_tokens(self, data: Frame) -> Frame:
        self.access_token = data["access_token"]
        self.refresh_token = data["refresh_token"]
        self.user = data["user"]
        self.user_id = int(data["user"]["id"])
        return data

    # -- HTTP ----------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        retry_auth: bool = True,
    ) -> Any:
        """Call the HTTP API under /api/v1; refresh the access token once on 401."""
        response = await self._http.request(
            method, path, json=json, params=params, headers=self._auth_headers()
        )
        if response.status_code == 401 and retry_auth and self.refresh_token:
            await self.refresh()
            response = await self._http.request(
                method, path, json=json, params=params, headers=self._auth_headers()
            )
        if response.status_code >= 400:
            raise _api_error(response)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}

    # -- live connection -----------------------------------------------------------------

    async def connect(self, timeout: float = 15.0) -> None:
        """Open the socket, authenticate, and pull everything missed; returns when caught up."""
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name=f"pigeon-client-{self.user_id}")
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            if self._runner.done() and self._runner.exception() is not None:
                raise self._runner.exception() from None  # type: ignore[misc]
            raise

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def close(self) -> None:
        self._closed = True
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        for task in list(self._pulling.values()):
            task.cancel()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        self._fail_pending(ClientClosed())
        await self._http.aclose()

    async def disconnect(self) -> None:
        """Go offline but keep what was received; :meth:`connect` resumes from there."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
            self._runner = None
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
            self._ws = None
        self._ready.clear()
        self._fail_pending(ConnectionError("disconnected"))

    async def drop_connection(self) -> None:
        """Close the socket abruptly, as a network failure would (the client reconnects)."""
        if self._ws is not None:
            self._ws.transport.abort()

    async def _run(self) -> None:
        delay = 0.1
        while not self._closed:
            try:
                await self._session()
                delay = 0.1
            except Kicked:
                return
            except asyncio.CancelledError:
                raise
            except (OSError, ConnectionClosed, TimeoutError, ApiError, httpx.HTTPError):
                # Also an API server that is down while we catch up over HTTP: retry.
                pass
            self._ready.clear()
            self._ws = None
            self._fail_pending(ConnectionError("connection lost"))
            if self._closed or self.kicked:
                return
            self.reconnects += 1
            self._discover = True
            await asyncio.sleep(delay * (0.5 + random.random()))  # noqa: S311 - jitter
            delay = min(delay * 2, 5.0)

    async def _find_gateway(self) -> None:
        """``GET /gateway``: the WebSocket URL of a live gateway (kept if the API fails)."""
        with contextlib.suppress(httpx.HTTPError, ApiError, KeyError, ValueError):
            found = await self.request("GET", "/gateway")
            self.ws_url = str(found["url"])

    async def _session(self) -> None:
        if self._discover:
            await self._find_gateway()
        ws = await self._ws_connect(self.ws_url)
        self._ws = ws
        try:
            await ws.send(
                json.dumps({"type": "auth", "token": self.access_token, "device": self.device})
            )
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if hello.get("type") != "hello":
                if hello.get("type") == "error" and self.refresh_token:
                    await self.refresh()
                raise ApiError(0, hello.get("code", "unexpected"), str(hello))
            self._hello = hello
            # Stay under the announced limit, with a margin, instead of being refused.
            self._pace = TokenBucket(
                hello["rate_limit_per_s"] * 0.9,
                max(1, hello["rate_limit_burst"] // 2),
                asyncio.get_running_loop().time(),
            )
            heartbeat = asyncio.create_task(self._heartbeat(ws, hello["heartbeat_interval"]))
            reader = asyncio.create_task(self._read(ws))
            try:
                await self._sync_all()
                self._ready.set()
                await reader
            finally:
                heartbeat.cancel()
                reader.cancel()
        finally:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _heartbeat(self, ws: ClientConnection, interval_ms: int) -> None:
        while True:
            await asyncio.sleep(interval_ms / 1000)
            await ws.send('{"type":"ping"}')

    async def _read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            frame: Frame = json.loads(raw)
            await self._on_frame(frame)
        code = ws.close_code
        if code == 4003:
            self.kicked = self.kicked or "closed"
            raise Kicked(self.kicked)

    async def _on_frame(self, frame: Frame) -> None:
        kind = frame.get("type")
        ref = frame.get("ref")
        if kind in ("ack", "messages") or (kind == "error" and ref):
            future = self._pending.pop(ref, None) if ref else None
            if future is not None and not future.done():
                future.set_result(frame)
            return
        if kind == "message":
            self._offer(frame["message"])
        elif kind == "message_changed":
            self._apply_change(frame["message"])
        elif kind == "kicked":
            self.kicked = frame.get("reason", "kicked")
        elif kind == "notice":
            self._pull_later(int(frame["conversation_id"]))
        elif kind == "pong":
            return
        async with self._arrived:
            self._backlog.append(frame)
            self._arrived.notify_all()

    # -- ordering and sync ---------------------------------------------------------------

    def _offer(self, message: Message, *, own: bool = False) -> None:
        ready, gap = self.inbox.push(message)
        self._deliver(ready, frozenset({message["id"]}) if own else frozenset())
        if gap:
            self._pull_later(int(message["conversation_id"]))

    def _deliver(self, ready: list[Message], own_ids: frozenset[int] = frozenset()) -> None:
        for message in ready:
            self.messages.setdefault(int(message["conversation_id"]), []).append(message)
            if message["id"] not in own_ids and message.get("client_msg_id") not in self._own_refs:
                self._new.put_nowait(message)

    def _pull_later(self, conversation_id: int) -> None:
        """Pull in the background. A pull already running may have read its last page
        before what we were just told of: it pulls once more when done, so no notice is
        ever dropped (many notices meanwhile still make one more pull)."""
        task = self._pulling.get(conversation_id)
        if task is None or task.done():
            self._pulling[conversation_id] = asyncio.create_task(
                self._pull_until_settled(conversation_id)
            )
        else:
            self._pull_again.add(conversation_id)

    async def _pull_until_settled(self, conversation_id: int) -> None:
        failures = 0
        while True:
            self._pull_again.discard(conversation_id)
            try:
                await self._pull(conversation_id)
            except (ConnectionError, ClientClosed):
                return  # the socket went away: the reconnect pulls everything behind
            except (TimeoutError, ApiError) as exc:
                if isinstance(exc, ApiError) and exc.code not in RETRIED_CODES:
                    return  # refused (no longer a member): nothing to pull
                failures += 1
                if failures > PULL_ATTEMPTS:
                    # Still behind with the socket up: start over, the resync pulls.
                    await self._drop_socket()
                    return
                await asyncio.sleep(0.2 * 2**failures)
                self._pull_again.add(conversation_id)
            if conversation_id not in self._pull_again:
                return

    async def _drop_socket(self) -> None:
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()

    async def _pull(self, conversation_id: int) -> None:
        """Page forward from the last in-order seq until the server has nothing more."""
        while True:
            after = self.inbox.last_seq.get(conversation_id, 0)
            page = await self._call(
                {"type": "sync", "conversation_id": conversation_id, "after": after, "limit": 200}
            )
            self._deliver(self.inbox.fill(conversation_id, page["messages"]))
            if not page["has_more"]:
                return

    async def _sync_all(self) -> None:
        """After (re)connecting: pull every conversation whose last seq is ahead of ours."""
        listing = await self.request("GET", "/conversations")
        pulls = []
        for conversation in listing["conversations"]:
            cid = int(conversation["id"])
            self.inbox.skip_to(cid, int(conversation.get("visible_from_seq", 0)))
            if conversation["last_seq"] > self.inbox.last_seq.get(cid, 0):
                pulls.append(self._pull(cid))
        await asyncio.gather(*pulls)

    # -- sending -------------------------------------------------------------------------

    async def send_text(
        self,
        text: str,
        *,
        conversation_id: int | None = None,
        to_user_id: int | None = None,
        client_msg_id: str | None = None,
        mentions: list[int] | None = None,
        mention_all: bool = False,
        reply_to: int | None = None,
    ) -> Frame:
        return await self.send(
            "text",
            {"text": text},
            conversation_id=conversation_id,
            to_user_id=to_user_id,
            client_msg_id=client_msg_id,
            mentions=mentions,
            mention_all=mention_all,
            reply_to=reply_to,
        )

    async def send(
        self,
        kind: str,
        body: dict[str, Any],
        *,
        conversation_id: int | None = None,
        to_user_id: int | None = None,
        client_msg_id: str | None = None,
        mentions: list[int] | None = None,
        mention_all: bool = False,
        reply_to: int | None = None,
    ) -> Frame:
        """Send and wait for the ack (the message is durable once this returns).

        Over the socket when connected, else over HTTP. A lost connection or a timeout is
        retried with the same ``client_msg_id``, so the server stores the message once.
        ``reply_to``: the id of the message this one answers (same conversation).
        """
        client_msg_id = client_msg_id or uuid.uuid4().hex
        frame: Frame = {
            "type": "send",
            "client_msg_id": client_msg_id,
            "kind": kind,
            "body": body,
            "mentions": mentions or [],
            "mention_all": mention_all,
        }
        if conversation_id is not None:
            frame["conversation_id"] = conversation_id
        else:
            frame["to_user_id"] = to_user_id
        if reply_to is not None:
            frame["reply_to"] = reply_to
        self._own_refs.add(client_msg_id)
        if self._runner is None:
            return await self._send_http(frame)
        last_error: Exception = TimeoutError("no ack")
        for attempt in range(self.send_attempts):
            try:
                await asyncio.wait_for(self._ready.wait(), self.send_timeout)
                ack = await self._call(dict(frame))
            except (ConnectionError, TimeoutError) as exc:
                last_error = exc
                await asyncio.sleep(min(0.2 * 2**attempt, 2.0))
                continue
            self._offer(_message_from_ack(ack, frame, self.user_id), own=True)
            return ack
        raise last_error

    async def _send_http(self, frame: Frame) -> Frame:
        body = {k: v for k, v in frame.items() if k not in ("type", "conversation_id")}
        if "conversation_id" in frame:
            path = f"/conversations/{frame['conversation_id']}/messages"
            body.pop("to_user_id", None)
        else:
            path = "/messages/private"
        ack: Frame = await self.request("POST", path, json=body)
        return ack

    async def mark_read(self, conversation_id: int, seq: int) -> None:
        if self._ws is not None and self._ready.is_set():
            await self.send_frame({"type": "read", "conversation_id": conversation_id, "seq": seq})
        else:
            await self.request("POST", f"/conversations/{conversation_id}/read", json={"seq": seq})

    # -- changes to stored messages -------------------------------------------------------

    async def edit(self, message_id: int, text: str) -> Message:
        """Replace the text of one's own text message; the edited message."""
        edited: Message = await self.request(
            "PATCH", f"/messages/{message_id}", json={"text": text}
        )
        return edited

    async def react(self, message_id: int, emoji: str) -> Message:
        path = f"/messages/{message_id}/reactions/{quote(emoji, safe='')}"
        reacted: Message = await self.request("PUT", path)
        return reacted

    async def unreact(self, message_id: int, emoji: str) -> Message:
        path = f"/messages/{message_id}/reactions/{quote(emoji, safe='')}"
        unreacted: Message = await self.request("DELETE", path)
        return unreacted

    async def changes(self, conversation_id: int, after: int = 0) -> list[Message]:
        """Every message of the conversation changed after version ``after``, applied to
        the messages held here too."""
        found: list[Message] = []
        while True:
            page = await self.request(
                "GET", f"/conversations/{conversation_id}/changes", params={"after": after}
            )
            found += page["messages"]
            after = page["last_change"]
            if not page["has_more"]:
                break
        for message in found:
            self._apply_change(message)
        return found

    def _apply_change(self, changed: Message) -> None:
        """Keep the newer copy: of two copies of a message, the higher version is current."""
        held = self.messages.get(int(changed["conversation_id"]), [])
        for i, message in enumerate(held):
            if message["id"] == changed["id"]:
                if changed.get("version", 0) > message.get("version", 0):
                    held[i] = changed
                return

    async def send_frame(self, frame: Frame) -> None:
        """Send any frame as is (for typing indicators, or testing the server)."""
        if self._ws is None:
            raise ConnectionError("not connected")
        await self._wait_turn()
        await self._ws.send(json.dumps(frame))

    async def _call(self, frame: Frame) -> Frame:
        """Send a frame with a fresh ref and wait for the reply carrying it."""
        ws = self._ws
        if ws is None:
            raise ConnectionError("not connected")
        await self._wait_turn()
        ref = uuid.uuid4().hex[:16]
        frame["ref"] = ref
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        try:
            await ws.send(json.dumps(frame))
            reply = await asyncio.wait_for(future, self.send_timeout)
        except ConnectionClosed:
            raise ConnectionError("connection lost") from None
        finally:
            self._pending.pop(ref, None)
            if future.done() and not future.cancelled():
                future.exception()  # failed while we were still sending: seen, not lost
        if reply.get("type") == "error":
            if reply["code"] == "rate_limited":
                await asyncio.sleep(reply.get("retry_after_ms", 100) / 1000)
                return await self._call(frame)
            raise ApiError(0, reply["code"], reply["message"])
        return reply

    async def _wait_turn(self) -> None:
        pace = self._pace
        if pace is None:
            return
        loop = asyncio.get_running_loop()
        while not pace.take(loop.time()):  # noqa: ASYNC110 - pacing is waiting for time
            await asyncio.sleep(pace.wait_time(loop.time()))

    def _fail_pending(self, error: Exception) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._pending.clear()

    # -- receiving -----------------------------------------------------------------------

    async def next_message(self, timeout: float = 10.0) -> Message:
        """The next message not sent by this client, in seq order per conversation."""
        return await asyncio.wait_for(self._new.get(), timeout)

    def pending_messages(self) -> int:
        return self._new.qsize()

    async def wait_for(self, predicate: Callable[[Frame], bool], timeout: float = 10.0) -> Frame:
        """The first received frame (not yet taken by another wait) matching ``predicate``."""

        async def find() -> Frame:
            async with self._arrived:
                while True:
                    for frame in self._backlog:
                        if predicate(frame):
                            self._backlog.remove(frame)
                            return frame
                    await self._arrived.wait()

        return await asyncio.wait_for(find(), timeout)


def _message_from_ack(ack: Frame, frame: Frame, sender_id: int) -> Message:
    return {
        "id": ack["message_id"],
        "conversation_id": ack["conversation_id"],
        "seq": ack["seq"],
        "sender_id": sender_id,
        "client_msg_id": ack["client_msg_id"],
        "kind": frame["kind"],
        "body": frame["body"],
        "ts": ack["ts"],
        "recalled": False,
        "mentions": frame.get("mentions", []),
        "mention_all": frame.get("mention_all", False),
    }


def _api_error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, error["code"], error["message"])
    except (ValueError, KeyError, TypeError):
        return ApiError(response.status_code, "http_error", response.text[:200])
