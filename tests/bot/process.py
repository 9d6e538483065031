"""Running the real `wanqi run` as a child process against the Bot API stand-in (crash and standby tests)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import yaml

from config import load_settings
from demo.standin import BotAPIStandin
from storage.db import open_db
from storage.repository import SqliteRepository
from tests.bot.harness import SUPERVISOR, TOKEN, credit_code
from tests.support import ROOT, free_port, write_config

ENTERPRISE_BASE, HANDLER_BASE, DISPATCHER = 100_000, 200_000, 300_000


def real_model() -> Path:
    """The project's trained model (trained here once if this checkout has none yet), as `wanqi run` loads it."""
    from bootstrap import build_classifier

    settings = load_settings(ROOT / "config.yml", env={})
    build_classifier(settings)
    return settings.path(settings.nlu.model_dir)


def appeal_texts() -> list[str]:
    """Real appeal texts the bot files at once: the held-out NLU test set (written apart from the training
    data), without the ones the real model takes as dialogue, too vague, or several topics to confirm."""
    from appeals.routing import Step
    from bootstrap import build_classifier
    from nlu.data_io import load_examples

    settings = load_settings(ROOT / "config.yml", env={})
    classifier = build_classifier(settings)
    texts = [e.text for e in load_examples(ROOT / "nlu" / "data" / "test" / "short")]
    return [t for t in texts if settings.routing.triage(t, classifier.parse(t)).step is Step.FILE]


def seed(tmp_path: Path, enterprises: int) -> Path:
    """A config pointing at the real model, and a database with enterprises, a handler per department and
    a dispatcher, written directly (registering each through the chat would only slow the test)."""
    config = write_config(tmp_path)
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["nlu"]["model_dir"] = str(real_model())
    data["telegram"]["polling_timeout"] = 1
    data["web"]["listen"] = f"127.0.0.1:{free_port()}"  # never a fixed port: another wanqi may hold 8080
    # the stand-in does not rate-limit: the worker may send as fast as it can (these tests are about loss)
    data.setdefault("push", {}).update({"messages_per_second": 1000, "per_chat_interval": 0})
    # the stand-in keeps no flood limits here: the outbox need not take a real chat's second per message
    data["push"] = {**data.get("push", {}), "messages_per_second": 200, "per_chat_interval": 0.02,
                    "backoff_max": 1}
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    settings = load_settings(config, env={})
    db = open_db(settings.path(settings.database))
    repo = SqliteRepository(db)
    repo.sync_departments(settings.departments)
    now = datetime.now(UTC)
    for i in range(enterprises):
        uid = ENTERPRISE_BASE + i
        repo.ensure_user(uid, f"企业用户{i}", "zh-CN", now)
        repo.create_enterprise({"name": f"肇庆测试企业{i:03d}有限公司", "credit_code": credit_code(f"914412{i:011d}"),
                                "contact": "张经理", "phone": "13800138000", "industry": "C", "scale": "小型",
                                "district": "端州区"}, uid, now)
    for k, dept in enumerate(sorted(settings.departments)):
        repo.ensure_user(HANDLER_BASE + k, f"承办人{k}", "zh-CN", now)
        repo.set_user(HANDLER_BASE + k, role="handler", department_id=dept)
    repo.ensure_user(DISPATCHER, "分拨员", "zh-CN", now)
    repo.set_user(DISPATCHER, role="dispatcher")
    db.close()
    return config


@dataclass
class WanqiProcess:
    """One `wanqi run` child; its output goes to a log file read back on failure."""

    config: Path
    api: BotAPIStandin
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        env = {**os.environ, "WANQI_BOT_TOKEN": TOKEN, "WANQI_API_BASE": self.api.base_url,
               "WANQI_SUPERVISORS": str(SUPERVISOR), "PYTHONUNBUFFERED": "1"}
        env.pop("WANQI_DATABASE", None)
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from cli.main import main; main()", "--config", str(self.config), "run"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.config.parent)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self._close()

    async def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as systemd stops it; returns the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        for _ in range(int(timeout * 10)):
            if self.proc.poll() is not None:
                break
            await asyncio.sleep(0.1)
        else:
            self.proc.kill()
        self._close()
        return self.proc.wait()

    def _close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def count(db_path: Path, sql: str) -> int:
    """One number from the live database (a separate read-only connection, as an operator would)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return int(conn.execute(sql).fetchone()[0])
    finally:
        conn.close()
