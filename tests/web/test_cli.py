"""`wanqi api-key` and `wanqi web link`: keys printed once and stored hashed, links only for staff."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from cli.main import main
from tests.support import create_database, write_config


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    return result.exit_code, result.output


def test_api_keys_are_created_listed_and_revoked(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    create_database(config)
    code, out = _run(config, "api-key", "create", "--name", "12345-hotline")
    assert code == 0
    key = out.splitlines()[0]
    assert key.startswith("wq_") and len(key) > 30
    db = sqlite3.connect(tmp_path / "wanqi.db")
    stored = db.execute("SELECT key_hash FROM api_keys").fetchone()[0]
    assert stored == hashlib.sha256(key.encode()).hexdigest() and key not in str(db.execute(
        "SELECT * FROM api_keys").fetchall())
    code, out = _run(config, "api-key", "create", "--name", "12345-hotline")
    assert code == 1 and "已存在" in out and "Traceback" not in out and len(out.strip().splitlines()) == 1
    code, out = _run(config, "api-key", "list")
    assert "12345-hotline" in out and "有效" in out and key not in out
    assert _run(config, "api-key", "revoke", "12345-hotline")[0] == 0
    assert "已停用" in _run(config, "api-key", "list")[1]
    code, out = _run(config, "api-key", "revoke", "12345-hotline")
    assert code == 1 and "没有名为「12345-hotline」的有效 API 密钥" in out


def test_web_link_is_for_staff_only(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    create_database(config)
    code, out = _run(config, "web", "link", "--user", "42")
    assert code == 1 and "不是中心工作人员" in out
    db = sqlite3.connect(tmp_path / "wanqi.db")
    db.execute("INSERT INTO users (id, name, role, active, created_at) "
               "VALUES (42, '督办', 'supervisor', 1, '2026-11-30T08:00:00+00:00')")
    db.commit()
    code, out = _run(config, "web", "link", "--user", "42")
    assert code == 0 and out.startswith("http://127.0.0.1:8080/console/login?token=")
