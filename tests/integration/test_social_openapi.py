"""The OpenAPI document describes every friends and groups endpoint."""

from __future__ import annotations

import httpx
import pytest

from tests.harness import ServerProcess

pytestmark = pytest.mark.asyncio

ENDPOINTS = {
    ("get", "/api/v1/friends"): "FriendsOut",
    ("post", "/api/v1/friends/requests"): "FriendRequest",
    ("get", "/api/v1/friends/requests"): "FriendRequestsOut",
    ("post", "/api/v1/friends/requests/{request_id}/accept"): "FriendRequest",
    ("post", "/api/v1/friends/requests/{request_id}/decline"): "FriendRequest",
    ("post", "/api/v1/friends/requests/{request_id}/cancel"): "FriendRequest",
    ("delete", "/api/v1/friends/{friend_id}"): None,
    ("patch", "/api/v1/friends/{friend_id}"): "Friend",
    ("get", "/api/v1/blocks"): "BlocksOut",
    ("post", "/api/v1/blocks/{target_id}"): None,
    ("delete", "/api/v1/blocks/{target_id}"): None,
    ("post", "/api/v1/groups"): "Group",
    ("get", "/api/v1/groups/{group_id}"): "Group",
    ("patch", "/api/v1/groups/{group_id}"): "Group",
    ("get", "/api/v1/groups/{group_id}/members"): "MembersOut",
    ("post", "/api/v1/groups/{group_id}/members"): "Group",
    ("delete", "/api/v1/groups/{group_id}/members/{target_id}"): None,
    ("post", "/api/v1/groups/{group_id}/quit"): None,
    ("post", "/api/v1/groups/{group_id}/dissolve"): None,
    ("post", "/api/v1/groups/{group_id}/transfer"): "Group",
    ("post", "/api/v1/groups/{group_id}/admins/{target_id}"): None,
    ("delete", "/api/v1/groups/{group_id}/admins/{target_id}"): None,
    ("patch", "/api/v1/groups/{group_id}/me"): "GroupMember",
    ("get", "/api/v1/conversations/{conversation_id}/messages/{seq}/readers"): "ReadersOut",
}


async def test_every_social_endpoint_is_described(server: ServerProcess) -> None:
    async with httpx.AsyncClient() as client:
        document = (await client.get(server.http_url + "/openapi.json")).json()
    for (method, path), model in ENDPOINTS.items():
        operation = document["paths"][path][method]
        assert operation.get("description"), path
        responses = operation["responses"]
        if model is None:
            assert "204" in responses, path
            continue
        (status,) = [code for code in responses if code.startswith("2")]
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/" + model), (path, schema)
