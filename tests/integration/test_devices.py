"""Many devices per user: each receives everything, sees its other devices' sends and
reads, is listed under its name, can be renamed and logged out; the per-user cap on
sockets refuses one too many. Runs against the embedded server and the cluster (where
one user's devices sit on different gateways)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from pigeon.client import ApiError, Kicked, PigeonClient
from tests.conftest import CONNECTION_CAP, PASSWORD, MakeClient
from tests.harness import ServerProcess
from tests.helpers import make_friends, no_message

pytestmark = pytest.mark.asyncio


async def expect_api_error(status: int, code: str, call: Any) -> ApiError:
    with pytest.raises(ApiError) as caught:
        await call
    assert (caught.value.status, caught.value.code) == (status, code)
    return caught.value


async def open_tab(server: ServerProcess, token: str) -> tuple[ClientConnection, dict[str, Any]]:
    """A raw socket with a device's token (one more tab of that browser), and its first
    frame (``hello``, or the error that refused it)."""
    ws = await connect(server.ws_url)
    await ws.send(json.dumps({"type": "auth", "token": token}))
    return ws, json.loads(await asyncio.wait_for(ws.recv(), 5))


async def frames_until(ws: ClientConnection, kind: str, timeout: float = 5) -> dict[str, Any]:
    async def find() -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if frame["type"] == kind:
                return frame

    return await asyncio.wait_for(find(), timeout)


async def test_two_devices_of_one_user_receive_everything_and_see_each_others_sends(
    make_client: MakeClient,
) -> None:
    laptop = await make_client(device_name="Firefox on Linux")
    phone = await make_client(device="mobile", device_name="Phone", login_as=laptop)
    bob = await make_client()
    conversation = await make_friends(bob, laptop)
    assert laptop.device_id
    assert phone.device_id
    assert laptop.device_id != phone.device_id

    await bob.send_text("hi both", conversation_id=conversation)
    for device in (laptop, phone):
        message = await device.next_message(timeout=5)
        assert message["body"] == {"text": "hi both"}

    await laptop.send_text("from the laptop", conversation_id=conversation)
    echoed = await phone.next_message(timeout=5)
    assert (echoed["body"], echoed["sender_id"]) == ({"text": "from the laptop"}, laptop.user_id)
    assert (await bob.next_message(timeout=5))["body"] == {"text": "from the laptop"}
    assert await no_message(laptop)  # the sending socket has the ack, not a second copy

    await phone.send_text("from the phone", conversation_id=conversation)
    assert (await laptop.next_message(timeout=5))["body"] == {"text": "from the phone"}

    assert (await bob.next_message(timeout=5))["body"] == {"text": "from the phone"}

    # A read on one device reaches the other (and the peer) as a receipt.
    await bob.send_text("read me", conversation_id=conversation)
    last = await phone.next_message(timeout=5)
    assert (await laptop.next_message(timeout=5))["seq"] == last["seq"]
    await phone.mark_read(conversation, last["seq"])

    def receipt(frame: dict[str, Any]) -> bool:
        return bool(frame["type"] == "read" and frame["user_id"] == laptop.user_id)

    for device in (laptop, bob):
        seen = await device.wait_for(receipt, timeout=5)
        assert seen["seq"] == last["seq"]


async def test_tabs_of_one_device_share_its_messages(
    make_client: MakeClient, server: ServerProcess
) -> None:
    browser = await make_client()
    bob = await make_client()
    conversation = await make_friends(bob, browser)
    tab, hello = await open_tab(server, browser.access_token)
    assert hello["type"] == "hello"
    assert hello["device_id"] == browser.device_id
    await bob.send_text("to every tab", conversation_id=conversation)
    assert (await browser.next_message(timeout=5))["body"] == {"text": "to every tab"}
    assert (await frames_until(tab, "message"))["message"]["body"] == {"text": "to every tab"}
    # A send from the second tab reaches the first as a push.
    await tab.send(
        json.dumps(
            {
                "type": "send",
                "ref": "t1",
                "client_msg_id": "tab-send-1",
                "conversation_id": conversation,
                "kind": "text",
                "body": {"text": "from tab 2"},
            }
        )
    )
    assert (await frames_until(tab, "ack"))["ref"] == "t1"
    assert (await browser.next_message(timeout=5))["body"] == {"text": "from tab 2"}
    await tab.close()


async def test_devices_are_listed_renamed_and_validated(make_client: MakeClient) -> None:
    laptop = await make_client(device="desktop", device_name="Work laptop")
    browser = await make_client(login_as=laptop, connect=False)
    listed = {d["id"]: d for d in await browser.list_devices()}
    assert set(listed) == {laptop.device_id, browser.device_id}
    mine, other = listed[browser.device_id], listed[laptop.device_id]
    assert (mine["current"], mine["online"], mine["kind"], mine["name"]) == (
        True,
        False,
        "web",
        "Web browser",  # no name given: named after its kind
    )
    assert (other["current"], other["online"], other["kind"], other["name"]) == (
        False,
        True,
        "desktop",
        "Work laptop",
    )
    assert other["last_active_at"] >= other["created_at"]

    renamed = await browser.rename_device(laptop.device_id, "  Old laptop ")
    assert (renamed["name"], renamed["current"]) == ("Old laptop", False)
    assert {d["name"] for d in await laptop.list_devices()} == {"Old laptop", "Web browser"}

    for bad in ("", "   ", "x" * 65, "two\nlines"):
        await expect_api_error(422, "invalid_request", browser.rename_device(laptop.device_id, bad))
    await expect_api_error(404, "not_found", browser.rename_device("00ff", "mine now"))
    await expect_api_error(422, "invalid_request", browser.rename_device("NOT-HEX", "x"))
    stranger = await make_client(connect=False)
    await expect_api_error(404, "not_found", stranger.rename_device(laptop.device_id, "mine"))
    await expect_api_error(404, "not_found", stranger.log_out_device(laptop.device_id))
    bad_login = PigeonClient(browser.base_url, device_name="tab\tname")
    async with bad_login:
        await expect_api_error(
            422, "invalid_request", bad_login.login(browser.user["username"], PASSWORD)
        )


async def test_log_out_a_device_closes_its_sockets_and_refuses_its_tokens(
    make_client: MakeClient, server: ServerProcess
) -> None:
    keeper = await make_client()
    lost = await make_client(device="mobile", login_as=keeper)
    tab, hello = await open_tab(server, lost.access_token)  # a second socket of that device
    assert hello["type"] == "hello"
    await keeper.log_out_device(lost.device_id)

    kicked = await lost.wait_for(lambda f: f["type"] == "kicked", timeout=5)
    assert kicked["reason"] == "device_logged_out"
    assert await frames_until(tab, "kicked") == {"type": "kicked", "reason": "device_logged_out"}
    await asyncio.wait_for(tab.wait_closed(), 5)
    assert tab.close_code == 4003
    for _ in range(50):
        if not lost.connected:
            break
        await asyncio.sleep(0.1)
    assert not lost.connected
    assert lost.kicked == "device_logged_out"

    await expect_api_error(401, "unauthorized", lost.request("GET", "/devices", retry_auth=False))
    await expect_api_error(401, "invalid_refresh_token", lost.refresh())
    again, refused = await open_tab(server, lost.access_token)
    assert (refused["type"], refused["code"]) == ("error", "unauthorized")
    await asyncio.wait_for(again.wait_closed(), 5)
    assert again.close_code == 4001

    assert [d["id"] for d in await keeper.list_devices()] == [keeper.device_id]
    await expect_api_error(404, "not_found", keeper.log_out_device(lost.device_id))
    assert keeper.connected  # the other device was not touched


async def test_the_connection_cap_refuses_one_too_many_and_frees_up(
    make_client: MakeClient, server: ServerProcess
) -> None:
    first = await make_client()
    tabs = []
    for _ in range(CONNECTION_CAP - 1):
        ws, hello = await open_tab(server, first.access_token)
        assert hello["type"] == "hello"
        tabs.append(ws)
    over, refused = await open_tab(server, first.access_token)
    assert (refused["type"], refused["code"]) == ("error", "too_many_connections")
    await asyncio.wait_for(over.wait_closed(), 5)
    assert over.close_code == 4005

    # The SDK stops at the cap instead of retrying, and says why.
    another = await make_client(login_as=first, connect=False)
    with pytest.raises(Kicked) as caught:
        await another.connect(timeout=5)
    assert caught.value.reason == "too_many_connections"
    assert first.connected  # nothing connected was cut off

    await tabs.pop().close()
    for _ in range(50):  # the closed socket's entry is removed as it closes
        ws, hello = await open_tab(server, first.access_token)
        if hello["type"] == "hello":
            tabs.append(ws)
            break
        await ws.close()
        await asyncio.sleep(0.1)
    assert hello["type"] == "hello"
    for ws in tabs:
        await ws.close()


async def test_friends_see_each_device_kind_once(make_client: MakeClient) -> None:
    alice = await make_client()
    second_browser = await make_client(login_as=alice)
    bob = await make_client()
    await make_friends(alice, bob)
    status = await bob.request("POST", "/presence/query", json={"user_ids": [alice.user_id]})
    assert status["presence"][str(alice.user_id)]["devices"] == ["web"]
    await make_client(device="mobile", login_as=alice)
    await asyncio.sleep(0.5)
    status = await bob.request("POST", "/presence/query", json={"user_ids": [alice.user_id]})
    assert status["presence"][str(alice.user_id)]["devices"] == ["mobile", "web"]
    await second_browser.disconnect()
    await asyncio.sleep(0.5)
    status = await bob.request("POST", "/presence/query", json={"user_ids": [alice.user_id]})
    # The other browser is still online.
    assert status["presence"][str(alice.user_id)]["devices"] == ["mobile", "web"]
