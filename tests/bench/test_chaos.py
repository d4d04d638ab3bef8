"""The chaos run: its checker on synthetic runs (fast), and the short run itself.

The short run goes through ``python -m bench chaos --short`` as a user would run it and
asserts that every acknowledged message reached every device once, in order and in time.
It needs PostgreSQL on 127.0.0.1:5432 and the ``redis-server`` binary: without them it
skips, except with ``CI=true`` where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.chaos_check import Ack, Arrival, DeviceRecord, Fault, Link, RunData, check
from bench.chaos_cluster import missing_services

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("PIGEON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

# --- the checker on synthetic data -----------------------------------------------------

ALICE, BOB, CAROL = 1, 2, 3
CHAT, GROUP = 10, 20


def ack(seq: int, at: float, conversation: int = CHAT, sender: str = "alice/web") -> Ack:
    return Ack(
        conversation_id=conversation,
        seq=seq,
        message_id=1000 * conversation + seq,
        client_msg_id=f"c{conversation}-{seq}",
        sender=sender,
        sender_user=ALICE,
        sender_device=sender if not sender.startswith("http") else None,
        sent_at=at - 0.01,
        acked_at=at,
    )


def got(device: str, seq: int, at: float, conversation: int = CHAT) -> Arrival:
    return Arrival(
        device, conversation, seq, 1000 * conversation + seq, f"c{conversation}-{seq}", at
    )


def devices(links: dict[str, list[Link]] | None = None) -> list[DeviceRecord]:
    always = [Link(0.0, 100.0, "gw1")]
    links = links or {}
    return [
        DeviceRecord("alice/web", ALICE, links.get("alice/web", always)),
        DeviceRecord("alice/desktop", ALICE, links.get("alice/desktop", always)),
        DeviceRecord("bob/web", BOB, links.get("bob/web", always)),
        DeviceRecord("carol/web", CAROL, links.get("carol/web", always)),
    ]


def run(
    acks: list[Ack],
    arrivals: list[Arrival],
    *,
    links: dict[str, list[Link]] | None = None,
    faults: list[Fault] | None = None,
    members: dict[int, dict[int, int]] | None = None,
) -> RunData:
    return RunData(
        acks=acks,
        arrivals=arrivals,
        devices=devices(links),
        members=members or {CHAT: {ALICE: 0, BOB: 0}},
        faults=faults or [],
    )


def clean_chat() -> tuple[list[Ack], list[Arrival]]:
    acks = [ack(1, 1.0), ack(2, 2.0), ack(3, 3.0)]
    arrivals = []
    for a in acks:  # bob's device and alice's other device; never the sending device
        arrivals.append(got("bob/web", a.seq, a.acked_at + 0.05))
        arrivals.append(got("alice/desktop", a.seq, a.acked_at + 0.02))
    return acks, arrivals


def test_a_clean_run_passes() -> None:
    acks, arrivals = clean_chat()
    result = check(run(acks, arrivals))
    assert result.ok, result.failures()
    assert result.expected_deliveries == 6
    assert result.delivered == 6
    assert result.late_checked == 6
    assert result.latency.count == 6
    assert result.latency.max_ms == pytest.approx(50.0, abs=0.5)


def test_a_lost_message_is_caught() -> None:
    acks, arrivals = clean_chat()
    arrivals = [a for a in arrivals if not (a.device == "bob/web" and a.seq == 2)]
    result = check(run(acks, arrivals))
    assert result.lost == 1
    assert result.failures() == {"lost": 1}
    assert result.samples["lost"][0]["device"] == "bob/web"
    assert result.samples["lost"][0]["seq"] == 2
    assert result.lost_by_conversation == {CHAT: 1}


def test_a_duplicate_is_caught() -> None:
    acks, arrivals = clean_chat()
    arrivals.append(got("bob/web", 3, 3.5))
    result = check(run(acks, arrivals))
    assert result.failures() == {"duplicated": 1}


def test_a_reorder_is_caught() -> None:
    acks = [ack(1, 1.0), ack(2, 1.1)]
    arrivals = [
        got("bob/web", 2, 1.2),
        got("bob/web", 1, 1.3),  # seq 1 yielded after seq 2
        got("alice/desktop", 1, 1.2),
        got("alice/desktop", 2, 1.2),
    ]
    result = check(run(acks, arrivals))
    assert result.failures() == {"reordered": 1}


def test_a_late_message_is_caught_on_a_connected_device() -> None:
    acks, arrivals = clean_chat()
    arrivals = [a for a in arrivals if not (a.device == "bob/web" and a.seq == 3)]
    arrivals.append(got("bob/web", 3, 3.0 + 5.5))
    result = check(run(acks, arrivals))
    assert result.failures() == {"late": 1}
    assert result.samples["late"][0]["delay_s"] == pytest.approx(5.5)
    assert result.latency.max_ms == pytest.approx(5500.0)


def test_late_is_not_counted_for_a_device_that_dropped_in_the_window() -> None:
    acks, arrivals = clean_chat()
    arrivals = [a for a in arrivals if not (a.device == "bob/web" and a.seq == 3)]
    arrivals.append(got("bob/web", 3, 3.0 + 9.0))
    # Bob's socket dropped at 4.0 and came back at 6.0: he got seq 3 only after that.
    links = {"bob/web": [Link(0.0, 4.0, "gw1"), Link(6.0, 100.0, "gw2")]}
    result = check(run(acks, arrivals, links=links))
    assert result.ok, result.failures()
    assert result.late_checked == 3  # none of bob's: each window reaches past 4.0
    # ... but what never arrives is lost however the device was connected.
    arrivals = [a for a in arrivals if not (a.device == "bob/web" and a.seq == 3)]
    assert check(run(acks, arrivals, links=links)).failures() == {"lost": 1}


def test_late_is_not_counted_while_the_gateway_was_stopped() -> None:
    acks, arrivals = clean_chat()
    arrivals = [a for a in arrivals if not (a.device == "bob/web" and a.seq == 3)]
    arrivals.append(got("bob/web", 3, 3.0 + 7.0))
    stop = Fault("gateway_stop", "gw1", 4.0, 8.0)
    result = check(run(acks, arrivals, faults=[stop]))
    assert result.ok, result.failures()
    # The same delay with another gateway stopped is late.
    other = Fault("gateway_stop", "gw2", 4.0, 8.0)
    result = check(run(acks, arrivals, faults=[other]))
    assert result.failures() == {"late": 1}
    assert result.late_by_fault == {"gateway_stop": 1}


def test_messages_around_a_redis_restart_have_ten_seconds_after_it_is_back() -> None:
    acks, arrivals = clean_chat()
    arrivals = [a for a in arrivals if not (a.device == "bob/web" and a.seq == 3)]
    # Seq 3 was acked at 3.0; Redis went down at 4.0 and was back (empty) at 6.0.
    restart = Fault("redis_restart", "redis", 4.0, 6.0)
    arrivals.append(got("bob/web", 3, 6.0 + 9.5))
    assert check(run(acks, arrivals, faults=[restart])).ok
    arrivals = [a for a in arrivals if not (a.device == "bob/web" and a.seq == 3)]
    arrivals.append(got("bob/web", 3, 6.0 + 10.5))
    assert check(run(acks, arrivals, faults=[restart])).failures() == {"late": 1}
    # A restart long after the message's window gives it no extra time, nor one long
    # before it (Redis was rebuilt by then).
    later = Fault("redis_restart", "redis", 20.0, 22.0)
    assert check(run(acks, arrivals, faults=[later])).failures() == {"late": 1}
    earlier = Fault("redis_restart", "redis", -20.0, -12.0)
    assert check(run(acks, arrivals, faults=[earlier])).failures() == {"late": 1}
    # Acked just after Redis came back (the registry still empty): the same bound.
    just_back = Fault("redis_restart", "redis", 0.0, 2.0)
    assert check(run(acks, arrivals, faults=[just_back])).failures() == {"late": 1}
    arrivals = [a for a in arrivals if not (a.device == "bob/web" and a.seq == 3)]
    arrivals.append(got("bob/web", 3, 2.0 + 9.0))
    assert check(run(acks, arrivals, faults=[just_back])).ok


def test_a_device_connected_only_after_the_ack_is_not_checked_for_lateness() -> None:
    acks, arrivals = clean_chat()
    links = {"bob/web": [Link(2.5, 100.0, "gw1")]}  # connected between seq 2 and seq 3
    result = check(run(acks, arrivals, links=links))
    assert result.ok
    assert result.late_checked == 4


def test_visible_from_seq_and_http_senders() -> None:
    # Carol joined the group after seq 1: only later seqs are due to her. A message sent
    # over HTTP is due on every device of its sender.
    acks = [
        ack(1, 1.0, GROUP, "alice/web"),
        ack(2, 2.0, GROUP, "http:alice"),
    ]
    members = {GROUP: {ALICE: 0, CAROL: 1}}
    arrivals = [
        got("alice/desktop", 1, 1.1, GROUP),
        got("alice/web", 2, 2.1, GROUP),
        got("alice/desktop", 2, 2.1, GROUP),
        got("carol/web", 2, 2.1, GROUP),
    ]
    result = check(run(acks, arrivals, members=members))
    assert result.ok, result.failures()
    assert result.expected_deliveries == 4
    # Carol yielding seq 1 (before her visible_from_seq) is a failure too.
    arrivals.insert(0, got("carol/web", 1, 1.1, GROUP))
    result = check(run(acks, arrivals, members=members))
    assert result.failures() == {"unexpected": 1}


def test_a_wrong_message_under_an_acked_seq_is_caught() -> None:
    acks, arrivals = clean_chat()
    arrivals[0] = Arrival("bob/web", CHAT, 1, 999, "someone-else", 1.05)
    assert check(run(acks, arrivals)).failures() == {"mismatched": 1}


def test_ack_seqs_must_be_unique_and_follow_real_time() -> None:
    acks, arrivals = clean_chat()
    reused = Ack(CHAT, 2, 5555, "other", "bob/web", BOB, "bob/web", 2.4, 2.5)
    assert check(run([*acks, reused], arrivals)).seq_reused == 1
    # seq 4 came back at 4.0; a send begun at 4.5 cannot have been numbered 3.
    early = [ack(1, 1.0), ack(4, 4.0), Ack(CHAT, 3, 3003, "c10-3", "b", BOB, None, 4.5, 4.6)]
    result = check(run(early, []))
    assert result.ack_order == 1


# --- the short run ----------------------------------------------------------------------


def require_services() -> None:
    missing = missing_services(PG_URL)
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the chaos run needs its services: {missing}")
        pytest.skip(missing)


@pytest.mark.cluster
@pytest.mark.timeout(420)
def test_short_chaos_run_delivers_every_ack_once_in_order_in_time(tmp_path: Path) -> None:
    require_services()
    out = tmp_path / "chaos.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "chaos",
            "--short",
            "--no-progress",
            "--pg-url",
            PG_URL,
            "--json",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=400,
        check=False,
    )
    report = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr[-4000:]}"
    assert out.exists(), report
    result: dict[str, Any] = json.loads(out.read_text())
    checked = result["check"]
    assert checked["acked"] > 1000, report
    assert sum(checked["faults"].values()) >= 5, report
    for name in (
        "lost",
        "duplicated",
        "reordered",
        "late",
        "mismatched",
        "unexpected",
        "seq_reused",
        "ack_order",
    ):
        assert checked[name] == 0, (name, report)
    assert done.returncode == 0, report
