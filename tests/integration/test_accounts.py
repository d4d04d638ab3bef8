"""Accounts over HTTP: registration, login, token rotation and revocation, profiles."""

from __future__ import annotations

from collections.abc import Awaitable

import httpx
import pytest

from pigeon.client import ApiError, PigeonClient
from tests.conftest import PASSWORD, MakeClient, unique_name
from tests.harness import ServerProcess

pytestmark = pytest.mark.asyncio


async def expect_error(status: int, code: str, call: Awaitable[object]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call
    assert (caught.value.status, caught.value.code) == (status, code)
    return caught.value


async def test_register_login_and_profile(make_client: MakeClient) -> None:
    name = unique_name("Ann")
    ann = await make_client(name, connect=False)
    assert ann.user["username"] == name
    assert ann.user["nickname"] == name
    other = await make_client(login_as=ann, connect=False, device="mobile")
    assert other.user_id == ann.user_id

    me = await ann.request(
        "PATCH", "/users/me", json={"nickname": "Ann 🌸", "signature": "hello", "avatar_url": "/a"}
    )
    assert (me["nickname"], me["signature"], me["avatar_url"]) == ("Ann 🌸", "hello", "/a")
    assert (await other.request("GET", f"/users/{ann.user_id}"))["nickname"] == "Ann 🌸"
    found = await other.request("GET", "/users", params={"q": name[:6].lower()})
    assert ann.user_id in [u["id"] for u in found["users"]]
    await expect_error(
        422, "invalid_request", ann.request("PATCH", "/users/me", json={"nickname": " "})
    )
    await expect_error(404, "not_found", ann.request("GET", "/users/999999999"))


async def test_clear_errors_for_bad_accounts(server: ServerProcess) -> None:
    async with PigeonClient(server.http_url) as client:
        name = unique_name()
        await client.register(name, PASSWORD)
        await expect_error(409, "username_taken", client.register(name.upper(), PASSWORD))
        await expect_error(422, "weak_password", client.register(unique_name(), "short1"))
        await expect_error(422, "weak_password", client.register(unique_name(), "alllowercase"))
        await expect_error(422, "invalid_request", client.register("no spaces!", PASSWORD))
        await expect_error(401, "wrong_password", client.login(name, "Wrong-pass1"))
        await expect_error(401, "wrong_password", client.login(unique_name(), PASSWORD))


async def test_refresh_rotates_and_reuse_revokes_the_session(make_client: MakeClient) -> None:
    user = await make_client(connect=False)
    first_refresh = user.refresh_token
    await user.refresh()
    assert user.refresh_token != first_refresh
    await user.request("GET", "/users/me")

    stolen = PigeonClient(user.base_url)
    stolen.refresh_token = first_refresh
    await expect_error(401, "invalid_refresh_token", stolen.refresh())
    await stolen.close()
    # The reuse revoked the whole session: the current tokens stop working too.
    await expect_error(401, "invalid_refresh_token", user.refresh())
    user.refresh_token = ""
    await expect_error(401, "unauthorized", user.request("GET", "/users/me"))


async def test_logout_revokes_the_session_and_closes_its_socket(make_client: MakeClient) -> None:
    user = await make_client()
    await user.request("POST", "/auth/logout", json={"refresh_token": user.refresh_token})
    kicked = await user.wait_for(lambda f: f["type"] == "kicked", timeout=5)
    assert kicked["reason"] == "session_revoked"
    token = user.refresh_token
    user.refresh_token = ""
    await expect_error(401, "unauthorized", user.request("GET", "/users/me"))
    user.refresh_token = token
    await expect_error(401, "invalid_refresh_token", user.refresh())


async def test_change_password_revokes_other_sessions(make_client: MakeClient) -> None:
    web = await make_client()
    phone = await make_client(login_as=web, device="mobile")
    claims_before = web.access_token
    await web.request(
        "POST", "/auth/password", json={"old_password": PASSWORD, "new_password": "N3w-password"}
    )
    kicked = await phone.wait_for(lambda f: f["type"] == "kicked", timeout=5)
    assert kicked["reason"] == "session_revoked"
    assert web.access_token == claims_before
    await web.request("GET", "/users/me")
    await expect_error(401, "wrong_password", web.login(web.user["username"], PASSWORD))
    await web.login(web.user["username"], "N3w-password")
    await expect_error(
        401,
        "wrong_password",
        web.request(
            "POST", "/auth/password", json={"old_password": "nope", "new_password": "X1-longer"}
        ),
    )


async def test_requests_without_valid_token_are_refused(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        for headers in ({}, {"Authorization": "Bearer garbage"}, {"Authorization": "Basic x"}):
            response = await http.get("/api/v1/conversations", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"


async def test_malformed_http_requests_get_codes(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        bad_json = await http.post(
            "/api/v1/auth/login", content=b"{nope", headers={"content-type": "application/json"}
        )
        assert (bad_json.status_code, bad_json.json()["error"]["code"]) == (422, "invalid_request")
        extra = await http.post(
            "/api/v1/auth/login", json={"username": "a", "password": "b", "x": 1}
        )
        assert extra.json()["error"]["code"] == "invalid_request"
        huge = await http.post("/api/v1/auth/login", content=b"x" * (2 * 1024 * 1024))
        assert (huge.status_code, huge.json()["error"]["code"]) == (413, "payload_too_large")
        missing = await http.get("/api/v1/nothing-here")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).status_code == 200
        assert (await http.get("/openapi.json")).json()["info"]["title"] == "Pigeon"


async def test_password_guessing_is_paused(server: ServerProcess) -> None:
    async with PigeonClient(server.http_url) as victim, PigeonClient(server.http_url) as other:
        name = unique_name("v")
        await victim.register(name, PASSWORD)
        await other.register(unique_name("o"), PASSWORD)
        for _ in range(10):
            await expect_error(401, "wrong_password", victim.login(name, "Not-the-pass1"))
        error = await expect_error(429, "rate_limited", victim.login(name, PASSWORD))
        assert "try again" in error.message
        await other.login(other.user["username"], PASSWORD)  # other accounts are not slowed
