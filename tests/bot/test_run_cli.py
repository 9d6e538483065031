"""`wanqi run` as an operator starts it: a short start-up, waiting out a network outage, a clean stop."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import yaml

from demo.standin import BotAPIStandin
from tests.support import write_config

WANQI = str(Path(sys.executable).parent / "wanqi")


def _config(tmp_path: Path) -> Path:
    """The shipped config on a temporary database; the Rasa backend (down) so nothing is trained here."""
    path = write_config(tmp_path, "run.db")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["nlu"].update(backend="rasa", rasa_url="http://127.0.0.1:9", rasa_timeout=0.5)
    data["web"]["listen"] = f"127.0.0.1:{_closed_port()}"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANQI_")}
    return {**env, "WANQI_LANG": "zh-CN", **extra}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_bot_api_is_waited_for_with_one_line_per_attempt(tmp_path: Path) -> None:
    env = _env(WANQI_BOT_TOKEN="123456:TEST-token", WANQI_API_BASE=f"http://127.0.0.1:{_closed_port()}")
    proc = subprocess.Popen([WANQI, "--config", str(_config(tmp_path)), "run"], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines: list[str] = []
    assert proc.stderr is not None
    deadline = time.monotonic() + 60
    while sum("unreachable" in line for line in lines) < 3 and time.monotonic() < deadline:
        lines.append(proc.stderr.readline())
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    lines += err.splitlines()
    attempts = [line for line in lines if "unreachable" in line]
    assert [a.split("attempt ")[1].split(":")[0] for a in attempts[:3]] == ["1", "2", "3"], lines
    assert "retrying in 1 s" in attempts[0] and "retrying in 2 s" in attempts[1]
    assert "Traceback" not in "".join(lines) + out
    assert proc.returncode == 130 and lines[-1].strip() == "已中断"


async def test_start_up_says_what_an_operator_needs_and_stops_cleanly(tmp_path: Path) -> None:
    async with BotAPIStandin() as api:
        env = _env(WANQI_BOT_TOKEN="123456:TEST-token", WANQI_API_BASE=api.base_url)
        proc = await asyncio.create_subprocess_exec(WANQI, "--config", str(_config(tmp_path)), "run", env=env,
                                                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        said = []
        while not any(line.startswith("定时任务") for line in said):
            said.append((await asyncio.wait_for(proc.stdout.readline(), 60)).decode().strip())
        proc.send_signal(signal.SIGINT)
        rest, logs = await asyncio.wait_for(proc.communicate(), 30)
    said += rest.decode().splitlines()
    assert said[0].startswith("万企诉求助手 ") and "已启动：机器人 @" in said[0], said
    assert str(tmp_path / "run.db") in said[0]
    assert "appeals:sla-scan" in said[1]
    assert said[2].startswith("网页控制台：http://127.0.0.1:")
    assert said[-1] == "已停止" and proc.returncode == 0
    log = logs.decode()
    assert "Adding job tentatively" not in log and "Traceback" not in log
    assert len(log.splitlines()) <= 6, log


async def test_a_console_address_in_use_stops_the_start_before_it_is_announced(tmp_path: Path) -> None:
    config = _config(tmp_path)
    listen = yaml.safe_load(config.read_text(encoding="utf-8"))["web"]["listen"]
    host, port = listen.rsplit(":", 1)
    with socket.socket() as taken:  # another wanqi run (or anything) already serves there
        taken.bind((host, int(port)))
        taken.listen()
        async with BotAPIStandin() as api:
            env = _env(WANQI_BOT_TOKEN="123456:TEST-token", WANQI_API_BASE=api.base_url)
            proc = await asyncio.create_subprocess_exec(WANQI, "--config", str(config), "run", env=env,
                                                        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
            out, err = await asyncio.wait_for(proc.communicate(), 90)
    said, logs = out.decode(), err.decode()
    assert proc.returncode == 1, (said, logs)
    assert "已启动" not in said and "定时任务" not in said
    lines = [line for line in logs.splitlines() if "无法监听" in line]
    assert len(lines) == 1 and listen in lines[0] and lines[0] == logs.strip().splitlines()[-1], logs
    assert "Traceback" not in logs and "job_runs" not in logs
