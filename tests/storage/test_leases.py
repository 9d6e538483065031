"""Leases on a real SQLite file: one holder at a time, renewal, expiry, release, and racing processes."""

from __future__ import annotations

import multiprocessing
import socket
from pathlib import Path
from typing import Any

from storage.db import open_db
from storage.leases import Leases, holder_is_dead, new_holder_id


def test_one_holder_at_a_time_until_expiry(tmp_path: Path) -> None:
    leases = Leases(open_db(tmp_path / "w.db"))
    assert leases.holder("primary", now=100.0) is None
    assert leases.acquire("primary", "a", ttl_seconds=10, now=100.0)
    assert not leases.acquire("primary", "b", ttl_seconds=10, now=105.0)
    assert leases.holder("primary", now=105.0) == "a"
    assert leases.acquire("primary", "a", ttl_seconds=10, now=108.0)  # renewal moves the expiry on
    assert not leases.acquire("primary", "b", ttl_seconds=10, now=117.0)
    assert leases.holder("primary", now=118.0) is None  # a's lease ran out at 118
    assert leases.acquire("primary", "b", ttl_seconds=10, now=118.0)
    assert not leases.acquire("primary", "a", ttl_seconds=10, now=119.0)  # a lost it: it may not renew
    assert leases.acquire("other", "a", ttl_seconds=10, now=119.0)  # names are independent


def test_release_frees_only_the_holders_lease(tmp_path: Path) -> None:
    leases = Leases(open_db(tmp_path / "w.db"))
    assert leases.acquire("primary", "a", ttl_seconds=60, now=0.0)
    leases.release("primary", "b")
    assert leases.holder("primary", now=1.0) == "a"
    leases.release("primary", "a")
    assert leases.holder("primary", now=1.0) is None
    assert leases.acquire("primary", "b", ttl_seconds=60, now=1.0)


def test_holder_ids_are_unique() -> None:
    assert len({new_holder_id() for _ in range(50)}) == 50


def _contend(path: str, name: str, start: Any, out: Any) -> None:
    leases = Leases(open_db(path, migrate=False))
    start.wait()
    won = sum(leases.acquire("primary", name, ttl_seconds=1000, now=float(i)) for i in range(200))
    out.put((name, won))


def test_racing_processes_never_share_the_lease(tmp_path: Path) -> None:
    path = str(tmp_path / "w.db")
    open_db(path)  # migrated once, before the race
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_contend, args=(path, f"p{i}", start, out)) for i in range(4)]
    for proc in procs:
        proc.start()
    start.set()
    results = dict(out.get(timeout=60) for _ in procs)
    for proc in procs:
        proc.join(timeout=30)
    winners = [name for name, won in results.items() if won]
    assert len(winners) == 1  # the first acquire wins; every later one renews or is refused
    assert results[winners[0]] == 200
    assert Leases(open_db(path)).holder("primary", now=10.0) == winners[0]


def test_a_dead_holder_on_this_host_is_taken_over_at_once(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=int)  # a process that exits at once: its id names a dead holder
    proc.start()
    proc.join()
    dead = f"{socket.gethostname()}:{proc.pid}:abcdef"
    leases = Leases(open_db(tmp_path / "w.db"))
    assert leases.acquire("primary", dead, ttl_seconds=30, now=0.0)
    assert holder_is_dead(dead) and not holder_is_dead(new_holder_id())  # this process is alive
    assert not holder_is_dead(f"elsewhere:{proc.pid}:abcdef")  # another host: only expiry decides
    assert not leases.take_over("primary", "someone-else", "b", ttl_seconds=30, now=1.0)
    assert leases.take_over("primary", dead, "b", ttl_seconds=30, now=1.0)
    assert leases.holder("primary", now=2.0) == "b"
