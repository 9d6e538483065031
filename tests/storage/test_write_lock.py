"""Two connections writing to one file: a transaction that reads, then writes, never fails for the other's commit.

The services, the delivery worker and the web side each have a connection. With a deferred BEGIN, a
transaction that had read before a neighbour committed could not write any more ("database is locked" at
once, no busy wait): in the intake benchmark one appeal in four failed its first attempt that way.
"""

from __future__ import annotations

import threading

import pytest

from storage.db import open_db


def test_a_neighbours_commit_between_a_read_and_a_write_waits_instead_of_failing(tmp_path):
    path = tmp_path / "wanqi.db"
    services, delivery = open_db(path), open_db(path, migrate=False)
    services.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)")
    services.execute("INSERT INTO counter VALUES (1, 0)")
    services.conn.commit()
    neighbour_done = threading.Event()

    def neighbour() -> None:
        with delivery.atomic():
            delivery.execute("UPDATE counter SET n = n + 100 WHERE id = 1")
        neighbour_done.set()

    with services.atomic():
        (n,) = services.execute("SELECT n FROM counter WHERE id = 1").fetchone()
        thread = threading.Thread(target=neighbour)
        thread.start()
        # the neighbour waits for our lock now; before, it committed here and our write below failed
        assert not neighbour_done.wait(0.3)
        services.execute("UPDATE counter SET n = ? WHERE id = 1", [n + 1])
    thread.join(10)
    assert neighbour_done.is_set()
    assert services.execute("SELECT n FROM counter").fetchone() == (101,)


@pytest.fixture
def db(tmp_path):
    database = open_db(tmp_path / "wanqi.db")
    database.execute("CREATE TABLE t (x INTEGER)")
    database.conn.commit()
    return database


def test_nested_blocks_are_savepoints_and_roll_back_alone(db):
    with db.atomic():
        db.execute("INSERT INTO t VALUES (1)")
        try:
            with db.atomic():
                db.execute("INSERT INTO t VALUES (2)")
                raise RuntimeError("inner step failed")
        except RuntimeError:
            pass
    assert [r[0] for r in db.execute("SELECT x FROM t")] == [1]


def test_a_failed_transaction_leaves_nothing(db):
    try:
        with db.atomic():
            db.execute("INSERT INTO t VALUES (1)")
            raise RuntimeError("crash mid-step")
    except RuntimeError:
        pass
    assert not db.conn.in_transaction
    assert db.execute("SELECT count(*) FROM t").fetchone() == (0,)
