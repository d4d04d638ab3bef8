"""The pure rules behind group authorisation and tips, without a server."""

from __future__ import annotations

from typing import Any

import pytest

from pigeon.actions.groups import (
    check_can_invite,
    check_can_kick,
    check_can_manage,
    check_can_mute,
    check_is_owner,
    check_size,
    clean_name,
)
from pigeon.actions.invites import check_usable
from pigeon.actions.tips import name_list
from pigeon.common.errors import (
    Forbidden,
    GroupFull,
    InvalidRequest,
    InviteExpired,
    InviteRevoked,
    InviteUsedUp,
    NotAdmin,
    NotOwner,
    PigeonError,
)
from pigeon.common.models import User
from pigeon.common.settings import MessagingSettings

KICKS: list[tuple[str, str, type[PigeonError] | None]] = [
    ("owner", "admin", None),
    ("owner", "member", None),
    ("admin", "member", None),
    ("admin", "admin", Forbidden),
    ("admin", "owner", Forbidden),
    ("member", "member", NotAdmin),
    ("member", "admin", NotAdmin),
    ("member", "owner", NotAdmin),
]


@pytest.mark.parametrize(("actor", "target", "error"), KICKS)
def test_who_may_kick_whom(actor: str, target: str, error: type[PigeonError] | None) -> None:
    if error is None:
        check_can_kick(actor, target)
    else:
        with pytest.raises(error) as caught:
            check_can_kick(actor, target)
        assert type(caught.value) is error


def test_managers_and_owner() -> None:
    check_can_manage("owner")
    check_can_manage("admin")
    with pytest.raises(NotAdmin):
        check_can_manage("member")
    check_is_owner("owner")
    for role in ("admin", "member"):
        with pytest.raises(NotOwner):
            check_is_owner(role)


def test_invite_depends_on_the_setting_for_members_only() -> None:
    closed, opened = MessagingSettings(), MessagingSettings(members_can_invite=True)
    for role in ("owner", "admin"):
        check_can_invite(role, closed)
    with pytest.raises(NotAdmin):
        check_can_invite("member", closed)
    check_can_invite("member", opened)


def test_size_limit() -> None:
    settings = MessagingSettings(max_group_members=3)
    check_size(3, settings)
    with pytest.raises(GroupFull):
        check_size(4, settings)
    assert MessagingSettings().max_group_members >= 10_000


def test_group_names_are_trimmed_and_bounded() -> None:
    assert clean_name("  Team \n  Rocket ") == "Team Rocket"
    assert clean_name("x" * 64) == "x" * 64
    for bad in ("", "   ", "x" * 65):
        with pytest.raises(InvalidRequest):
            clean_name(bad)


def user(name: str, nickname: str = "") -> User:
    return User(id=1, username=name, nickname=nickname, avatar_url="", signature="", created_at=0)


def test_name_lists_in_tips() -> None:
    assert name_list([user("bob", "Bob")]) == "Bob"
    assert name_list([user("bob"), user("carol", "Carol")]) == "bob and Carol"
    assert name_list([user(f"u{i}") for i in range(3)]) == "u0, u1 and u2"
    many = name_list([user(f"u{i}") for i in range(13)])
    assert many == "u0, u1, u2, u3, u4, u5, u6, u7, u8, u9 and 3 others"
    assert name_list([user(f"u{i}") for i in range(11)]).endswith("and 1 other")


def test_private_messages_need_friendship_by_default() -> None:
    settings = MessagingSettings()
    assert settings.require_friendship is True
    assert settings.group_invite_requires_friendship is True
    assert settings.new_members_see_history is False


MUTES: list[tuple[str, str, type[PigeonError] | None]] = [
    ("owner", "admin", None),
    ("owner", "member", None),
    ("admin", "member", None),
    ("owner", "owner", Forbidden),
    ("admin", "owner", Forbidden),
    ("admin", "admin", Forbidden),
    ("member", "member", NotAdmin),
]


@pytest.mark.parametrize(("role", "target", "error"), MUTES)
def test_who_may_mute_whom(role: str, target: str, error: type[PigeonError] | None) -> None:
    if error is None:
        check_can_mute(role, target)
    else:
        with pytest.raises(error):
            check_can_mute(role, target)


LINK = {"revoked_at": None, "expires_at": None, "max_uses": None, "uses": 0}


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({}, None),
        ({"expires_at": 101, "max_uses": 2, "uses": 1}, None),
        ({"revoked_at": 5, "expires_at": 50}, InviteRevoked),  # revoked says so first
        ({"expires_at": 100}, InviteExpired),
        ({"max_uses": 2, "uses": 2}, InviteUsedUp),
    ],
)
def test_when_a_link_works(changes: dict[str, int], error: type[PigeonError] | None) -> None:
    invite: Any = {**LINK, **changes}
    if error is None:
        check_usable(invite, now=100)
    else:
        with pytest.raises(error):
            check_usable(invite, now=100)
