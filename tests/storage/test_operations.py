"""What an operator can do to the center's data from a shell, run as they would: the real `wanqi` in a
folder outside the checkout, several at once, beside a serving `wanqi web`. No command may lose data."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml

from tests.support import create_database, free_port, write_config

WANQI = str(Path(sys.executable).parent / "wanqi")
CREDIT_CODE = "91441200MA4UQ2X17T"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANQI_")}
    return {**env, "WANQI_LANG": "zh-CN", "PYTHONUNBUFFERED": "1", **extra}


def _config(tmp_path: Path) -> Path:
    """The shipped settings on a database in ``tmp_path``; the Rasa backend (down): nothing is trained."""
    path = write_config(tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["nlu"].update(backend="rasa", rasa_url="http://127.0.0.1:9", rasa_timeout=0.5)
    data["web"]["listen"] = f"127.0.0.1:{free_port()}"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def wanqi(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([WANQI, *args], cwd=cwd, env=_env(**env), capture_output=True, text=True, timeout=120)


def _one_line(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _users(path: Path) -> list[int]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [r[0] for r in conn.execute("SELECT id FROM users ORDER BY id")]
    finally:
        conn.close()


def _add_users(config: Path, *ids: int) -> Path:
    path = create_database(config)
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany("INSERT INTO users (id, name, lang, active, created_at) VALUES (?, '', 'zh-CN', 1, 'x')",
                         [(i,) for i in ids])
    conn.close()
    return path


def _snapshot(tmp_path: Path, name: str, *ids: int) -> Path:
    """A backup file holding exactly the users ``ids`` (made with the real command)."""
    folder = tmp_path / name
    folder.mkdir()
    config = write_config(folder)
    _add_users(config, *ids)
    assert wanqi(folder, "--config", str(config), "db", "backup", str(tmp_path / f"{name}.db")).returncode == 0
    return tmp_path / f"{name}.db"


def test_two_restores_at_once_never_lose_the_database(tmp_path: Path) -> None:
    config = _config(tmp_path)
    live = _add_users(config, 1)
    first, second = _snapshot(tmp_path, "s1", 11), _snapshot(tmp_path, "s2", 22)
    successes = 0
    for trial in range(3):
        before = set(_users(live))
        procs = [subprocess.Popen([WANQI, "--config", str(config), "db", "restore", str(s)], cwd=tmp_path,
                                  env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for s in (first, second)]
        results = [(p.wait(120), *p.communicate()) for p in procs]
        assert all(code in (0, 1) for code, _, _ in results), results
        assert any(code == 0 for code, _, _ in results), results
        for code, out, err in results:
            assert "Traceback" not in out + err
            if code == 1:  # the other one was restoring: refused, one line, nothing done
                assert "正被其他进程使用" in err and len(err.strip().splitlines()) == 1, err
        successes += sum(code == 0 for code, _, _ in results)
        kept = sorted(tmp_path.glob("wanqi.db.before-restore-*"))
        assert len(kept) == successes, (kept, results)  # every database that was replaced: a file of its own
        assert any(set(_users(k)) == before for k in kept), (trial, before, [_users(k) for k in kept])
        assert set(_users(live)) in ({11}, {22})
    # the very first database of all is still there
    assert any(_users(k) == [1] for k in tmp_path.glob("wanqi.db.before-restore-*"))
    assert sqlite3.connect(live).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _post_appeal(base: str, key: str, text: str) -> str:
    body = urllib.parse.urlencode({"api_key": key, "service_code": "tax", "description": text,
                                   "attribute[credit_code]": CREDIT_CODE}).encode()
    with urllib.request.urlopen(f"{base}/open311/v2/requests.json", data=body, timeout=30) as response:
        return str(json.loads(response.read())[0]["service_request_id"])


def _wait_serving(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            with urllib.request.urlopen(f"{base}/open311/v2/services.json", timeout=5):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("wanqi web did not start serving")


def test_a_restore_under_a_serving_console_is_refused_and_nothing_filed_is_lost(tmp_path: Path) -> None:
    config = _config(tmp_path)
    live = _add_users(config, 1)
    backup = _snapshot(tmp_path, "monday", 7)
    created = wanqi(tmp_path, "--config", str(config), "api-key", "create", "--name", "12345-hotline")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([WANQI, "--config", str(config), "web", "--listen", f"127.0.0.1:{port}"],
                              cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_serving(base, server)
        first = _post_appeal(base, key, "增值税发票无法开具，请尽快处理")
        refused = wanqi(tmp_path, "--config", str(config), "db", "restore", str(backup))
        line = _one_line(refused, 1, "正被其他进程使用", str(server.pid), "wanqi web")
        assert "未做任何改动" in line
        second = _post_appeal(base, key, "出口退税迟迟未到账，影响资金周转")
    finally:
        server.terminate()
        server.communicate(timeout=30)
    conn = sqlite3.connect(live)
    numbers = [r[0] for r in conn.execute("SELECT number FROM appeals ORDER BY id")]
    conn.close()
    assert numbers == [first, second]
    assert not list(tmp_path.glob("wanqi.db.before-restore-*"))
    # stopped: now the restore goes through, and keeps what it replaced
    restored = wanqi(tmp_path, "--config", str(config), "db", "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    kept = next(tmp_path.glob("wanqi.db.before-restore-*"))
    assert _users(live) == [7] and 1 in _users(kept)


def test_a_backup_onto_the_database_itself_is_refused(tmp_path: Path) -> None:
    config = _config(tmp_path)
    live = _add_users(config, 1, 2)
    for target in (live, tmp_path / "." / "wanqi.db", tmp_path / "wanqi.db-wal", tmp_path / "wanqi.db.lock"):
        line = _one_line(wanqi(tmp_path, "--config", str(config), "db", "backup", str(target)), 1, "数据库本身")
        assert "未做任何改动" in line
    (tmp_path / "link.db").symlink_to(live)
    _one_line(wanqi(tmp_path, "--config", str(config), "db", "backup", "link.db"), 1, "数据库本身")
    assert _users(live) == [1, 2]
    _one_line(wanqi(tmp_path, "--config", str(config), "db", "restore", str(live)), 1, "不能用它恢复自己")
    assert _users(live) == [1, 2] and not list(tmp_path.glob("wanqi.db.before-restore-*"))
    # a second backup onto the same file replaces the first one whole
    assert wanqi(tmp_path, "--config", str(config), "db", "backup", "copy.db").returncode == 0
    assert wanqi(tmp_path, "--config", str(config), "db", "backup", "copy.db").returncode == 0
    assert _users(tmp_path / "copy.db") == [1, 2] and not list(tmp_path.glob(".copy.db*"))


def _make_newer(path: Path) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                     "VALUES ('wanqi', 'm_future_001_from_a_newer_wanqi', '2031-01-01')")
    conn.close()


def test_a_database_from_a_newer_version_is_refused_by_every_command(tmp_path: Path) -> None:
    config = _config(tmp_path)
    live = _add_users(config, 1)
    conn = sqlite3.connect(live)
    version = conn.execute("SELECT count(*) FROM _sqlite_migrations WHERE migration_set = 'wanqi'").fetchone()[0]
    conn.close()
    backup = _snapshot(tmp_path, "future", 5)
    _make_newer(backup)
    line = _one_line(wanqi(tmp_path, "--config", str(config), "db", "restore", str(backup)), 1,
                     "来自更新版本", f"结构版本 {version + 1}", f"只认识到 {version}", "m_future_001")
    assert str(backup) in line and _users(live) == [1]
    _make_newer(live)
    for args in (("staff", "list"), ("db", "migrate"), ("report", "--out", "r.xlsx"), ("web",), ("run",)):
        result = wanqi(tmp_path, "--config", str(config), *args, WANQI_BOT_TOKEN="123456:TEST-token",
                       WANQI_API_BASE=f"http://127.0.0.1:{free_port()}")
        _one_line(result, 1, "来自更新版本", f"结构版本 {version + 1}")
    conn = sqlite3.connect(live)
    assert conn.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == version + 1
    conn.close()


def test_data_commands_refuse_a_database_that_does_not_exist(tmp_path: Path) -> None:
    typo = tmp_path / "nonexistent" / "x"
    expected = str(typo / "wanqi.db")
    for args in (("staff", "list"), ("staff", "invite", "--role", "dispatcher"), ("api-key", "create", "--name", "a"),
                 ("api-key", "list"), ("report", "--out", str(tmp_path / "r.xlsx")), ("inbox", "list"),
                 ("web", "link", "--user", "1"), ("policies", "stats"), ("nlu", "export-feedback", "--out", "f.yml")):
        line = _one_line(wanqi(tmp_path, *args, WANQI_DATA_DIR=str(typo)), 1, "数据库不存在", expected)
        assert "wanqi db migrate" in line, args
    assert not (tmp_path / "nonexistent").exists()  # nothing was created on the way
    assert wanqi(tmp_path, "db", "migrate", WANQI_DATA_DIR=str(typo)).returncode == 0
    assert (typo / "wanqi.db").is_file()
    assert wanqi(tmp_path, "staff", "list", WANQI_DATA_DIR=str(typo)).returncode == 0


def _start_and_stop_web(tmp_path: Path, config: Path, **env: str) -> str:
    """`wanqi web` started as a service would be (the bootstrap list applied), serving, then stopped: its log."""
    port = free_port()
    server = subprocess.Popen([WANQI, "--config", str(config), "web", "--listen", f"127.0.0.1:{port}"],
                              cwd=tmp_path, env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        _wait_serving(f"http://127.0.0.1:{port}", server)
    finally:
        server.terminate()
        _, log = server.communicate(timeout=30)
    return log


def _supervisors(config: Path) -> list[int]:
    conn = sqlite3.connect(create_database(config))
    try:
        return [r[0] for r in conn.execute("SELECT id FROM users WHERE role = 'supervisor' ORDER BY id")]
    finally:
        conn.close()


def test_a_start_without_wanqi_supervisors_keeps_the_last_supervisor(tmp_path: Path) -> None:
    config = _config(tmp_path)
    create_database(config)
    log = _start_and_stop_web(tmp_path, config, WANQI_SUPERVISORS="1001,1002")
    assert _supervisors(config) == [1001, 1002] and "WARNING" not in log
    # 1002 taken out of the list: withdrawn (1001 remains), said in one warning line
    log = _start_and_stop_web(tmp_path, config, WANQI_SUPERVISORS="1001")
    warnings = [line for line in log.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "1002" in warnings[0] and "withdrawn" in warnings[0], log
    assert _supervisors(config) == [1001]
    # the variable forgotten altogether: the last supervisor stays, and the log says why
    log = _start_and_stop_web(tmp_path, config)
    warnings = [line for line in log.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "1001" in warnings[0] and "last supervisor" in warnings[0], log
    assert _supervisors(config) == [1001]
    listed = wanqi(tmp_path, "--config", str(config), "staff", "list")
    assert listed.returncode == 0 and "1001" in listed.stdout and "督办" in listed.stdout, listed.stdout


def test_root_running_a_command_leaves_the_lock_file_to_the_databases_owner(tmp_path: Path) -> None:
    """An operator's `sudo wanqi staff list` must not leave a root-owned wanqi.db.lock the service cannot open."""
    import pytest

    if os.geteuid() != 0:
        pytest.skip("needs root to own files as another user")
    config = _config(tmp_path)
    live = _add_users(config, 1)
    lock = tmp_path / "wanqi.db.lock"
    lock.unlink()
    os.chown(live, 4242, 4242)
    assert wanqi(tmp_path, "--config", str(config), "staff", "list").returncode == 0
    assert (lock.stat().st_uid, lock.stat().st_gid) == (4242, 4242) and lock.stat().st_mode & 0o777 == 0o600
