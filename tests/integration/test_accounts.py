"""Accounts over HTTP: registration, login, token rotation and revocation, profiles."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable

import httpx
import jwt
import pytest
from websockets.asyncio.client import connect

from pigeon.actions.tokens import issue_access_token
from pigeon.client import ApiError, PigeonClient
from tests.conftest import PASSWORD, MakeClient, unique_name
from tests.harness import ServerProcess, start_embedded

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
        "POST",
        "/auth/password",
        json={"old_password": PASSWORD, "new_password": "Fresh-Kestrel-Path-9"},
    )
    kicked = await phone.wait_for(lambda f: f["type"] == "kicked", timeout=5)
    assert kicked["reason"] == "session_revoked"
    assert web.access_token == claims_before
    await web.request("GET", "/users/me")
    await expect_error(401, "wrong_password", web.login(web.user["username"], PASSWORD))
    await web.login(web.user["username"], "Fresh-Kestrel-Path-9")
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


async def test_concurrent_wrong_logins_are_counted_before_they_are_checked(
    server: ServerProcess,
) -> None:
    async with PigeonClient(server.http_url) as victim:
        name = unique_name("c")
        await victim.register(name, PASSWORD)
        async with httpx.AsyncClient(base_url=server.http_url + "/api/v1", timeout=30) as http:
            responses = await asyncio.gather(
                *(
                    http.post("/auth/login", json={"username": name, "password": f"Guess-{i}-x"})
                    for i in range(40)
                )
            )
        statuses = sorted(r.status_code for r in responses)
        # Ten are evaluated (the default brake), the rest refused without a check.
        assert statuses == [401] * 10 + [429] * 30, statuses
        refused = next(r for r in responses if r.status_code == 429)
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) > 0
        await expect_error(429, "rate_limited", victim.login(name, PASSWORD))


@pytest.mark.parametrize("password", ["Password1", "qwerty123", "Passw0rd", "password1"])
async def test_common_passwords_are_refused_saying_why(
    server: ServerProcess, password: str
) -> None:
    async with PigeonClient(server.http_url) as client:
        error = await expect_error(422, "weak_password", client.register(unique_name(), password))
        assert "easy to guess" in error.message
        assert "common" in error.message
        await client.register(unique_name(), PASSWORD)
        await expect_error(
            422,
            "weak_password",
            client.request(
                "POST", "/auth/password", json={"old_password": PASSWORD, "new_password": password}
            ),
        )


async def test_registration_and_guessing_are_limited_per_address() -> None:
    # A server of its own: the shared one lifts the per-address limits for the suites.
    limited = start_embedded(
        {
            "PIGEON_AUTH__REGISTER_PER_ADDRESS": "3",
            "PIGEON_AUTH__LOGIN_MAX_FAILURES_PER_ADDRESS": "12",
        }
    )
    try:
        with httpx.Client(base_url=limited.http_url + "/api/v1") as http:
            codes = [
                http.post(
                    "/auth/register", json={"username": unique_name(), "password": PASSWORD}
                ).status_code
                for _ in range(5)
            ]
            assert codes == [201, 201, 201, 429, 429]
            refused = http.post(
                "/auth/register", json={"username": unique_name(), "password": PASSWORD}
            )
            assert refused.json()["error"]["code"] == "rate_limited"
            assert "registrations" in refused.json()["error"]["message"]
            assert int(refused.headers["retry-after"]) > 3000
            # Guesses spread over many accounts from one address are braked too.
            guesses = [
                http.post(
                    "/auth/login", json={"username": unique_name(), "password": "Wrong-guess-7"}
                ).status_code
                for _ in range(14)
            ]
            assert guesses == [401] * 12 + [429] * 2
    finally:
        limited.stop()
    assert "Traceback" not in limited.log()


async def test_a_token_naming_another_users_session_is_refused(
    make_client: MakeClient, server: ServerProcess
) -> None:
    alice = await make_client(connect=False)
    mallory = await make_client(connect=False)
    secret = (server.data_dir / "secret.key").read_text().strip()
    alice_claims = jwt.decode(alice.access_token, secret, algorithms=["HS256"])
    now = int(time.time())
    forged = issue_access_token(secret, mallory.user_id, alice_claims["sid"], "web", now, ttl_s=600)
    async with httpx.AsyncClient(base_url=server.http_url + "/api/v1") as http:
        response = await http.get("/users/me", headers={"Authorization": f"Bearer {forged}"})
    assert (response.status_code, response.json()["error"]["code"]) == (401, "unauthorized")
    # Over the socket too.
    async with connect(server.ws_url) as ws:
        await ws.send(json.dumps({"type": "auth", "token": forged, "device": "web"}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert (reply["type"], reply["code"]) == ("error", "unauthorized")
    await alice.request("GET", "/users/me")  # the real owner is unaffected
