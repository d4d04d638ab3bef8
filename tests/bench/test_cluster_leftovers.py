"""A Pigeon process that outlives the benchmark's launcher is stopped by pid, and only that."""

from __future__ import annotations

import subprocess
import sys

from bench.cluster import PID_RE, _kill_if_ours


def test_leftover_pigeon_processes_are_killed_and_others_left_alone() -> None:
    sleep = "import time; time.sleep(30)"
    ours = subprocess.Popen([sys.executable, "-c", sleep, "pigeon", "worker"])
    other = subprocess.Popen([sys.executable, "-c", sleep, "something-else"])
    try:
        _kill_if_ours(ours.pid)
        _kill_if_ours(other.pid)
        assert ours.wait(timeout=10) == -9
        assert other.poll() is None
    finally:
        for proc in (ours, other):
            proc.kill()
            proc.wait(timeout=10)


def test_the_launchers_pids_are_read_from_its_output() -> None:
    text = "platform 1: http://127.0.0.1:1 pid=101\ngateway gw1: ws://127.0.0.1:2/ws pid=102 (x)"
    assert [int(pid) for pid in PID_RE.findall(text)] == [101, 102]
