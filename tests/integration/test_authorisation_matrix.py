"""The authorisation matrix: every HTTP endpoint and every WebSocket frame type, tried by
callers who must not get through.

The endpoints come from the server's OpenAPI document (and the route table, for the routes
left out of it), so a new route fails this test until it is given a rule here. Callers:
no token, a garbage, expired, revoked or forged token, and three real users aimed at
things that are not theirs: a non-member of the group, a member who was kicked from it,
and a user the owner blocked. Each must get the documented refusal (401/403/404 with its
code, or an error frame), never a 5xx, and never the owner's messages.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from websockets.asyncio.client import ClientConnection, connect

import pigeon.platform.routes
from pigeon.actions.tokens import issue_access_token
from pigeon.client import ApiError, PigeonClient
from pigeon.common.protocol.frames import CLIENT_FRAME_TYPES
from tests.conftest import MakeClient
from tests.harness import ServerProcess
from tests.helpers import make_group, no_frame

pytestmark = pytest.mark.asyncio

API = "/api/v1"
# Routes outside the OpenAPI document, and why nobody needs a token for them.
UNLISTED = {
    ("GET", "/files/{upload_id}"): "capability URL: the random id is the permission",
    ("GET", "/files/{upload_id}/thumbnail"): "capability URL, as the original",
}
# The codes each refusal status may carry.
CODES = {
    401: {"unauthorized", "invalid_refresh_token", "wrong_password"},
    403: {"forbidden", "not_member", "not_friends", "blocked", "not_admin", "not_owner"},
    404: {"not_found"},
    409: {"conflict", "request_not_pending", "already_friends"},
    410: {"invite_revoked"},
}
REFUSED = frozenset({403, 404})
OUTSIDERS = ("nonmember", "kicked", "blocked")
BAD_TOKENS = ("none", "garbage", "expired", "revoked", "forged")


@dataclass
class World:
    """The owner's things the outsiders aim at."""

    owner: PigeonClient
    member: PigeonClient
    group_id: int
    group_conversation: int
    private_conversation: int
    group_message: int
    private_message: int
    request_id: int
    secret: str
    callers: dict[str, PigeonClient] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    invite_token: str = ""  # a revoked link to the owner's group

    def path_values(self, path: str) -> dict[str, list[int] | list[str]]:
        target = self.owner.user_id if "/blocks/" in path else self.member.user_id
        return {
            "conversation_id": [self.group_conversation, self.private_conversation],
            "group_id": [self.group_id],
            "message_id": [self.group_message, self.private_message],
            "request_id": [self.request_id],
            "friend_id": [self.owner.user_id],
            "user_id": [self.owner.user_id],
            "target_id": [target],
            "seq": [1],
            "token": [self.invite_token],
            "emoji": ["👍"],
            "device_id": [self.owner.device_id],
        }


Body = Callable[[World], Any]


@dataclass(frozen=True)
class Rule:
    """How an endpoint must treat callers. ``auth``: ``user`` (a bearer token), ``service``
    (a service key) or ``public``. ``outsider``: the statuses allowed for a real user
    aiming at the owner's things (2xx only where the endpoint acts on the caller's own
    things), or per caller."""

    auth: str = "user"
    body: Body | None = None
    outsider: frozenset[int] | dict[str, frozenset[int]] = REFUSED
    multipart: bool = False
    params: Body | None = None


def text(world: World) -> dict[str, Any]:
    return {"client_msg_id": uuid.uuid4().hex, "kind": "text", "body": {"text": "sneaky"}}


OWN = frozenset({200, 201, 204})
RULES: dict[tuple[str, str], Rule] = {
    ("POST", "/auth/register"): Rule(auth="public"),
    ("POST", "/auth/login"): Rule(auth="public"),
    ("POST", "/auth/refresh"): Rule(auth="public"),
    ("GET", "/gateway"): Rule(auth="public"),
    # Logging out someone else's session: the refresh token must be the caller's.
    ("POST", "/auth/logout"): Rule(
        body=lambda w: {"refresh_token": w.owner.refresh_token}, outsider=frozenset({401})
    ),
    ("POST", "/auth/password"): Rule(
        body=lambda w: {"old_password": "Not-my-password-1", "new_password": "Quiet-Fox-Hill-88"},
        outsider=frozenset({401}),
    ),
    ("GET", "/users/me"): Rule(outsider=OWN),
    ("GET", "/devices"): Rule(outsider=OWN),  # the caller's own devices
    # Another user's device is not told apart from none: 404, and it stays logged in.
    ("PATCH", "/devices/{device_id}"): Rule(body=lambda w: {"name": "mine now"}),
    ("DELETE", "/devices/{device_id}"): Rule(),
    ("PATCH", "/users/me"): Rule(body=lambda w: {"signature": "mine"}, outsider=OWN),
    ("GET", "/users"): Rule(params=lambda w: {"q": w.owner.user["username"]}, outsider=OWN),
    ("GET", "/users/{user_id}"): Rule(outsider=OWN),  # public profiles
    ("GET", "/conversations"): Rule(outsider=OWN),
    ("POST", "/conversations/private"): Rule(
        body=lambda w: {"user_id": w.owner.user_id}, outsider=frozenset({403})
    ),
    ("GET", "/conversations/{conversation_id}"): Rule(),
    ("GET", "/conversations/{conversation_id}/messages"): Rule(),
    ("POST", "/conversations/{conversation_id}/messages"): Rule(body=text),
    ("POST", "/messages/private"): Rule(
        body=lambda w: {**text(w), "to_user_id": w.owner.user_id}, outsider=frozenset({403})
    ),
    ("POST", "/conversations/{conversation_id}/read"): Rule(body=lambda w: {"seq": 1}),
    ("POST", "/messages/{message_id}/recall"): Rule(),
    ("GET", "/conversations/{conversation_id}/messages/{seq}/readers"): Rule(),
    ("GET", "/conversations/{conversation_id}/media"): Rule(),
    ("PATCH", "/messages/{message_id}"): Rule(body=lambda w: {"text": "rewritten"}),
    ("GET", "/messages/{message_id}/edits"): Rule(),
    ("PUT", "/messages/{message_id}/reactions/{emoji}"): Rule(),
    ("DELETE", "/messages/{message_id}/reactions/{emoji}"): Rule(),
    ("GET", "/messages/{message_id}/reactions"): Rule(),
    ("GET", "/conversations/{conversation_id}/changes"): Rule(),
    ("POST", "/messages/{message_id}/pin"): Rule(),
    ("DELETE", "/messages/{message_id}/pin"): Rule(),
    ("GET", "/conversations/{conversation_id}/pins"): Rule(),
    ("PATCH", "/conversations/{conversation_id}/settings"): Rule(body=lambda w: {"pinned": True}),
    ("POST", "/conversations/{conversation_id}/hide"): Rule(
        body=lambda w: {"message_ids": [w.group_message]}
    ),
    ("GET", "/conversations/{conversation_id}/hidden"): Rule(),
    # Forwarding the owner's messages: the forwarder must see them.
    ("POST", "/messages/forward"): Rule(
        body=lambda w: {
            "client_msg_id": uuid.uuid4().hex[:20],
            "message_ids": [w.group_message, w.private_message],
            "conversation_ids": [w.private_conversation],
        }
    ),
    # Searching for the owner's secret finds nothing the caller may not see.
    ("GET", "/search/messages"): Rule(params=lambda w: {"q": w.secret}, outsider=OWN),
    ("GET", "/friends"): Rule(outsider=OWN),
    ("GET", "/friends/requests"): Rule(outsider=OWN),
    # Anyone may ask the owner to be friends, except whom the owner blocked.
    ("POST", "/friends/requests"): Rule(
        body=lambda w: {"user_id": w.owner.user_id},
        outsider={
            "nonmember": frozenset({201, 409}),
            "kicked": frozenset({201, 409}),
            "blocked": frozenset({403}),
        },
    ),
    ("POST", "/friends/requests/{request_id}/accept"): Rule(),
    ("POST", "/friends/requests/{request_id}/decline"): Rule(),
    ("POST", "/friends/requests/{request_id}/cancel"): Rule(),
    ("DELETE", "/friends/{friend_id}"): Rule(),
    ("PATCH", "/friends/{friend_id}"): Rule(body=lambda w: {"remark": "x"}),
    ("GET", "/blocks"): Rule(outsider=OWN),
    # The caller's own block list: blocking or unblocking the owner touches only it.
    ("POST", "/blocks/{target_id}"): Rule(outsider=OWN),
    ("DELETE", "/blocks/{target_id}"): Rule(outsider=OWN),
    ("POST", "/groups"): Rule(
        body=lambda w: {"name": "mine", "member_ids": [w.owner.user_id]},
        outsider=frozenset({403}),
    ),
    ("GET", "/groups/{group_id}"): Rule(),
    ("PATCH", "/groups/{group_id}"): Rule(body=lambda w: {"name": "taken over"}),
    ("GET", "/groups/{group_id}/members"): Rule(),
    ("POST", "/groups/{group_id}/members"): Rule(body=lambda w: {"user_ids": [w.owner.user_id]}),
    ("DELETE", "/groups/{group_id}/members/{target_id}"): Rule(),
    ("POST", "/groups/{group_id}/quit"): Rule(),
    ("POST", "/groups/{group_id}/dissolve"): Rule(),
    ("POST", "/groups/{group_id}/transfer"): Rule(body=lambda w: {"user_id": w.member.user_id}),
    ("POST", "/groups/{group_id}/admins/{target_id}"): Rule(),
    ("DELETE", "/groups/{group_id}/admins/{target_id}"): Rule(),
    ("PATCH", "/groups/{group_id}/me"): Rule(body=lambda w: {"alias": "x"}),
    ("PUT", "/groups/{group_id}/mutes/{target_id}"): Rule(body=lambda w: {"duration_s": 60}),
    ("DELETE", "/groups/{group_id}/mutes/{target_id}"): Rule(),
    ("POST", "/groups/{group_id}/invites"): Rule(body=lambda w: {}),
    ("GET", "/groups/{group_id}/invites"): Rule(),
    ("DELETE", "/groups/{group_id}/invites/{token}"): Rule(),
    # Any user may use a link; this one was revoked, so everyone is told so.
    ("GET", "/invites/{token}"): Rule(outsider=frozenset({410})),
    ("POST", "/invites/{token}/join"): Rule(outsider=frozenset({410})),
    ("GET", "/groups/{group_id}/join-requests"): Rule(),
    ("POST", "/groups/{group_id}/join-requests/{target_id}/approve"): Rule(),
    ("POST", "/groups/{group_id}/join-requests/{target_id}/decline"): Rule(),
    ("POST", "/presence/query"): Rule(body=lambda w: {"user_ids": [w.owner.user_id]}, outsider=OWN),
    ("POST", "/uploads"): Rule(multipart=True, outsider=OWN),
    ("POST", "/service/messages/private"): Rule(auth="service"),
    ("POST", "/service/messages/group"): Rule(auth="service"),
    ("POST", "/service/notify"): Rule(auth="service"),
    ("GET", "/service/deliveries"): Rule(auth="service"),
}


def schema_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path.removeprefix(API))
        for path, operations in doc["paths"].items()
        for method in operations
    }


def unlisted_routes() -> set[tuple[str, str]]:
    """Routes of every router module that the OpenAPI document leaves out."""
    found: set[tuple[str, str]] = set()
    for module_info in pkgutil.iter_modules(pigeon.platform.routes.__path__):
        module = importlib.import_module(f"pigeon.platform.routes.{module_info.name}")
        for value in vars(module).values():
            if not isinstance(value, APIRouter):
                continue
            for route in value.routes:
                if isinstance(route, APIRoute) and not route.include_in_schema:
                    found |= {(method, route.path) for method in route.methods or ()}
    return found


async def build_world(make_client: MakeClient, server: ServerProcess) -> World:
    owner = await make_client()
    member = await make_client()
    kicked = await make_client()
    nonmember = await make_client()
    blocked = await make_client()
    pending = await make_client(connect=False)
    group = await make_group(owner, [member, kicked], name="inner circle")
    await owner.request("DELETE", f"/groups/{group['id']}/members/{kicked.user_id}")
    await owner.request("DELETE", f"/friends/{kicked.user_id}")
    await owner.request("POST", f"/blocks/{blocked.user_id}")
    request = await owner.request("POST", "/friends/requests", json={"user_id": pending.user_id})
    private = await owner.request(
        "POST", "/conversations/private", json={"user_id": member.user_id}
    )
    secret = f"secret-{uuid.uuid4().hex}"
    group_ack = await owner.send_text(f"{secret} group", conversation_id=group["id"])
    private_ack = await owner.send_text(f"{secret} private", conversation_id=private["id"])
    world = World(
        owner=owner,
        member=member,
        group_id=group["id"],
        group_conversation=group["id"],  # a group's id is its conversation's
        private_conversation=private["id"],
        group_message=group_ack["message_id"],
        private_message=private_ack["message_id"],
        request_id=request["id"],
        secret=secret,
        callers={"nonmember": nonmember, "kicked": kicked, "blocked": blocked},
    )
    invite = await owner.create_invite(group["id"])
    await owner.request("DELETE", f"/groups/{group['id']}/invites/{invite['token']}")
    world.invite_token = invite["token"]
    world.tokens = await bad_tokens(make_client, server, owner)
    for caller in world.callers.values():
        world.tokens[caller_key(caller)] = caller.access_token
    return world


def caller_key(client: PigeonClient) -> str:
    return f"user:{client.user_id}"


async def bad_tokens(
    make_client: MakeClient, server: ServerProcess, owner: PigeonClient
) -> dict[str, str]:
    secret = (server.data_dir / "secret.key").read_text().strip()
    claims = jwt.decode(owner.access_token, secret, algorithms=["HS256"])
    past = int(time.time()) - 3600
    revoked = await make_client(login_as=owner, connect=False)
    revoked_token = revoked.access_token
    await revoked.request("POST", "/auth/logout", json={"refresh_token": revoked.refresh_token})
    stranger = await make_client(connect=False)
    return {
        "none": "",
        "garbage": "not.a.token",
        "expired": issue_access_token(secret, owner.user_id, claims["sid"], "web", past, 60),
        "revoked": revoked_token,
        # Signed with the real key, but naming the owner's session for another user.
        "forged": issue_access_token(
            secret, stranger.user_id, claims["sid"], "web", int(time.time()), 600
        ),
    }


@dataclass
class Outcome:
    who: str
    method: str
    path: str
    status: int
    body: str


async def call(
    http: httpx.AsyncClient, world: World, method: str, path: str, rule: Rule, token: str
) -> list[tuple[str, httpx.Response]]:
    """Every concrete request of one endpoint (one per value of its path parameters)."""
    paths = [path]
    for name, values in world.path_values(path).items():
        if "{" + name + "}" in path:
            paths = [p.replace("{" + name + "}", str(v)) for p in paths for v in values]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    done = []
    for concrete in paths:
        if rule.multipart:
            response = await http.request(
                method,
                API + concrete,
                headers=headers,
                files={"file": ("a.txt", b"mine", "text/plain")},
                data={"kind": "file"},
            )
        else:
            body = rule.body(world) if rule.body is not None else None
            params = rule.params(world) if rule.params is not None else None
            response = await http.request(
                method, API + concrete, headers=headers, json=body, params=params
            )
        done.append((concrete, response))
    return done


def check_refusal(response: httpx.Response, allowed: frozenset[int], what: str) -> None:
    status = response.status_code
    assert status < 500, f"{what}: {status} {response.text}"
    assert status in allowed, f"{what}: {status} {response.text}"
    if status >= 400:
        code = response.json()["error"]["code"]
        assert code in CODES[status], f"{what}: {status} {code}"


async def test_every_endpoint_refuses_callers_who_are_not_allowed(
    make_client: MakeClient, server: ServerProcess
) -> None:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=30) as http:
        doc = (await http.get("/openapi.json")).json()
        operations = schema_operations(doc)
        assert operations - set(RULES) == set(), "give these new endpoints a rule"
        assert set(RULES) - operations == set(), "these endpoints are gone"
        assert unlisted_routes() == set(UNLISTED), "routes left out of the OpenAPI document"

        world = await build_world(make_client, server)
        for (method, path), rule in RULES.items():
            if rule.auth == "public":
                continue
            for name in BAD_TOKENS:
                for concrete, response in await call(
                    http, world, method, path, rule, world.tokens[name]
                ):
                    check_refusal(response, frozenset({401}), f"{name} {method} {concrete}")
            if rule.auth == "service":
                for who, caller in world.callers.items():
                    for concrete, response in await call(
                        http, world, method, path, rule, caller.access_token
                    ):
                        check_refusal(response, frozenset({401}), f"{who} {method} {concrete}")
                continue
            for who, caller in world.callers.items():
                allowed = rule.outsider
                if isinstance(allowed, dict):
                    allowed = allowed[who]
                for concrete, response in await call(
                    http, world, method, path, rule, caller.access_token
                ):
                    what = f"{who} {method} {concrete}"
                    check_refusal(response, allowed, what)
                    assert world.secret not in response.text, f"{what} leaked a message"
                    if path == "/users/me":
                        assert response.json()["id"] == caller.user_id

    # Nothing of the owner's changed.
    group = await world.owner.request("GET", f"/groups/{world.group_id}")
    assert group["name"] == "inner circle"
    assert group["owner_id"] == world.owner.user_id
    members = await world.owner.request("GET", f"/groups/{world.group_id}/members")
    assert {m["user"]["id"] for m in members["members"]} == {
        world.owner.user_id,
        world.member.user_id,
    }
    page = await world.owner.request("GET", f"/conversations/{world.group_conversation}/messages")
    assert not any(m["recalled"] for m in page["messages"])
    await world.owner.request("GET", "/users/me")  # the owner's session was not logged out
    blocked = world.callers["blocked"]
    with pytest.raises(ApiError) as caught:
        await blocked.send_text("still blocked?", to_user_id=world.owner.user_id)
    assert caught.value.code in {"blocked", "not_friends"}
    assert "Traceback" not in server.log()


async def expect_error(ws: ClientConnection, codes: set[str], what: str) -> None:
    reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert reply["type"] == "error", f"{what}: {reply}"
    assert reply["code"] in codes, f"{what}: {reply}"


def frames(world: World) -> dict[str, list[dict[str, Any]]]:
    """Each client frame type, aimed at the owner's things."""
    c, p = world.group_conversation, world.private_conversation
    return {
        "send": [
            {"type": "send", "ref": "s1", **text(world), "conversation_id": c},
            {"type": "send", "ref": "s2", **text(world), "conversation_id": p},
            {"type": "send", "ref": "s3", **text(world), "to_user_id": world.owner.user_id},
        ],
        "sync": [
            {"type": "sync", "ref": "y1", "conversation_id": c},
            {"type": "sync", "ref": "y2", "conversation_id": p},
        ],
        "read": [
            {"type": "read", "conversation_id": c, "seq": 1},
            {"type": "read", "conversation_id": p, "seq": 1},
        ],
        "typing": [
            {"type": "typing", "conversation_id": c},
            {"type": "typing", "conversation_id": p},
        ],
        "recall": [
            {"type": "recall", "ref": "r1", "message_id": world.group_message},
            {"type": "recall", "ref": "r2", "message_id": world.private_message},
        ],
        "ping": [{"type": "ping"}],
        "auth": [{"type": "auth", "token": world.owner.access_token}],
    }


async def test_every_frame_type_refuses_callers_who_are_not_allowed(
    make_client: MakeClient, server: ServerProcess
) -> None:
    world = await build_world(make_client, server)
    by_type = frames(world)
    assert set(by_type) == set(CLIENT_FRAME_TYPES), "give these new frame types a case"
    refused = {"not_member", "forbidden", "not_found", "not_friends", "blocked"}

    # Before authenticating, every request is refused; bad tokens are refused.
    async with connect(server.ws_url) as ws:
        for kind, cases in by_type.items():
            if kind != "auth":
                await ws.send(json.dumps(cases[0]))
                await expect_error(ws, {"not_authenticated"}, f"anonymous {kind}")
    for name in BAD_TOKENS:
        async with connect(server.ws_url) as ws:
            token = world.tokens[name] or "x"
            await ws.send(json.dumps({"type": "auth", "token": token}))
            await expect_error(ws, {"unauthorized", "invalid_frame"}, f"{name} auth")

    for who, caller in world.callers.items():
        async with connect(server.ws_url) as ws:
            await ws.send(json.dumps({"type": "auth", "token": caller.access_token}))
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert hello["type"] == "hello", hello
            for kind, cases in by_type.items():
                for frame in cases:
                    what = f"{who} {kind} {frame}"
                    await ws.send(json.dumps(frame))
                    if kind == "ping":
                        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
                        assert reply["type"] == "pong", what
                    elif kind == "auth":
                        await expect_error(ws, {"already_authenticated"}, what)
                    elif kind == "send" and "to_user_id" in frame:
                        await expect_error(ws, {"not_friends", "blocked"}, what)
                    else:
                        await expect_error(ws, refused, what)
    # The owner heard nothing from any of them.
    for kind in ("typing", "read"):
        assert await no_frame(world.owner, kind, wait=0.3)
    page = await world.owner.request("GET", f"/conversations/{world.group_conversation}/messages")
    assert not any(m["body"].get("text") == "sneaky" for m in page["messages"])
    assert "Traceback" not in server.log()
