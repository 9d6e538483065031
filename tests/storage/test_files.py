"""The database holds personal data: its files are private, backups too, and a restore is safe."""

from __future__ import annotations

import shutil
import sqlite3
import stat
import time
from pathlib import Path

from click.testing import CliRunner

from cli.main import main
from storage.db import open_db
from storage.leases import PRIMARY, Leases
from tests.support import write_config


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _wanqi(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args], env={"WANQI_LANG": ""})
    return result.exit_code, result.output


def _users(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM users ORDER BY id")]
    finally:
        conn.close()


def _add_user(db_path: Path, user_id: int) -> None:
    db = open_db(db_path)
    db.execute("INSERT INTO users (id, name, lang, active, created_at) VALUES (?, '', 'zh-CN', 1, '2026-01-01')",
               [user_id])
    db.conn.commit()
    db.close()


def test_the_database_its_wal_and_backups_are_owner_only(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    code, out = _wanqi(config, "db", "migrate")
    assert code == 0, out
    db_path = tmp_path / "wanqi.db"
    assert _mode(db_path) == 0o600
    live = open_db(db_path)  # while it is open, SQLite's side files exist
    wal = db_path.with_name("wanqi.db-wal")
    assert wal.exists() and _mode(wal) == 0o600 and _mode(db_path.with_name("wanqi.db-shm")) == 0o600
    code, out = _wanqi(config, "db", "backup", str(tmp_path / "copy.db"))
    assert code == 0 and _mode(tmp_path / "copy.db") == 0o600
    live.close()
    db_path.chmod(0o644)  # left readable by an older version: tightened at the next open
    open_db(db_path).close()
    assert _mode(db_path) == 0o600


def test_restore_replaces_the_database_and_never_replays_a_stale_wal(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    db_path = tmp_path / "wanqi.db"
    _add_user(db_path, 1)
    assert _wanqi(config, "db", "backup", str(tmp_path / "monday.db"))[0] == 0
    # later work sits in the WAL of a process that then died: the -wal file stays behind
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("INSERT INTO users (id, name, lang, active, created_at) VALUES (2, '', 'zh-CN', 1, 'x')")
    conn.commit()
    shutil.copy(db_path.with_name("wanqi.db-wal"), tmp_path / "stale-wal")
    conn.close()
    shutil.copy(tmp_path / "stale-wal", db_path.with_name("wanqi.db-wal"))
    code, out = _wanqi(config, "db", "restore", str(tmp_path / "monday.db"))
    assert code == 0 and "完整性检查通过" in out, out
    assert _users(db_path) == [1]  # the old WAL was not replayed into the restored file
    assert _mode(db_path) == 0o600
    kept = next(tmp_path.glob("wanqi.db.before-restore-*"))
    assert _users(kept) == [1, 2] and _mode(kept) == 0o600  # nothing of the replaced database is lost
    assert sqlite3.connect(db_path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # the database file itself was lost and only its WAL remains: the WAL must not land on the backup
    for side in ("wanqi.db-shm", "wanqi.db"):
        db_path.with_name(side).unlink(missing_ok=True)
    shutil.copy(tmp_path / "stale-wal", db_path.with_name("wanqi.db-wal"))
    assert _wanqi(config, "db", "restore", str(tmp_path / "monday.db"))[0] == 0
    assert _users(db_path) == [1]


def test_restore_refuses_while_the_bot_holds_the_lease_and_refuses_a_broken_backup(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    db_path = tmp_path / "wanqi.db"
    _add_user(db_path, 1)
    _wanqi(config, "db", "backup", str(tmp_path / "monday.db"))
    _add_user(db_path, 2)
    db = open_db(db_path)
    assert Leases(db).acquire(PRIMARY, "host:4242:abc", ttl_seconds=60, now=time.time())
    db.close()
    code, out = _wanqi(config, "db", "restore", str(tmp_path / "monday.db"))
    assert code != 0 and "host:4242:abc" in out and "Traceback" not in out
    assert _users(db_path) == [1, 2]
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    code, out = _wanqi(config, "db", "restore", str(broken))
    assert code != 0 and "不是完好的万企数据库备份" in out
    code, out = _wanqi(config, "db", "restore", str(tmp_path / "nope.db"))
    assert code != 0 and "备份文件不存在" in out
    assert _users(db_path) == [1, 2] and not list(tmp_path.glob("wanqi.db.before-restore-*"))
