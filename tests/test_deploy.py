"""The deployment files run as documented: the container file's CMD and the systemd unit's ExecStart, as
written, with the environment they set, against an installed copy of the package (``pip install`` of this
checkout, as the container build does), reach the Bot API stand-in, serve the console, and stop cleanly on
SIGTERM. Docker and systemd are not here: the files are read and their commands run as they would run them."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from demo.standin import BotAPIStandin
from tests.bot.process import real_model
from tests.support import ROOT, free_port

DEPLOY = ROOT / "deploy"
TOKEN = "123456:TEST-token"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout installed the way the container build installs it (not editable: only what the package
    ships is there), its dependencies taken from the test environment."""
    # a copy of the sources, as `COPY . /opt/wanqi/src` makes: building in the checkout would leave build/ there
    source = tmp_path_factory.mktemp("src") / "wanqi"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "build", "dist", "models", "*.egg-info", "__pycache__", "*.db*", ".*_cache"))
    target = tmp_path_factory.mktemp("site")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(source)],
                   check=True, capture_output=True, timeout=600)
    return target


def _env(installed: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANQI_")}
    env.update(extra)
    env["PYTHONPATH"] = str(installed)  # the installed copy, not this checkout
    env["PATH"] = f"{installed / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _check_installed_copy(installed: Path, env: dict[str, str], cwd: Path) -> None:
    where = subprocess.run([sys.executable, "-c", "import cli, texts; print(cli.__file__); print(texts.__file__)"],
                           env=env, cwd=cwd, capture_output=True, text=True, check=True).stdout.split()
    assert all(Path(p).is_relative_to(installed) for p in where), where


def _run_until_started(argv: list[str], env: dict[str, str], cwd: Path, listen: str) -> Iterator[str]:
    """Start the command, wait for its start-up lines and the console, stop it as the manager would."""
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    said: list[str] = []
    deadline = time.monotonic() + 120
    while not any(line.startswith("网页控制台") for line in said):
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise AssertionError(("exited", proc.returncode, said, proc.stderr.read() if proc.stderr else ""))
        said.append(line.strip())
        assert time.monotonic() < deadline, said
    with urllib.request.urlopen(f"http://{listen}/open311/v2/services.json", timeout=30) as response:
        services = json.loads(response.read())
    assert any(s["service_code"] == "tax" for s in services)
    proc.send_signal(signal.SIGTERM)  # docker stop / systemctl stop
    out, logs = proc.communicate(timeout=40)
    said += out.splitlines()
    assert proc.returncode == 0, (said, logs)
    assert "Traceback" not in logs
    yield from said


def _containerfile() -> tuple[dict[str, str], str, list[str]]:
    """ENV, WORKDIR and CMD of deploy/Containerfile."""
    text = (DEPLOY / "Containerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n\s*", " ", text)
    env: dict[str, str] = {}
    workdir, cmd = "/", []
    for line in joined.splitlines():
        if line.startswith("ENV "):
            env.update(dict(pair.split("=", 1) for pair in shlex.split(line[4:])))
        elif line.startswith("WORKDIR "):
            workdir = line.split(None, 1)[1].strip()
        elif line.startswith("CMD "):
            cmd = json.loads(line[4:])
    return env, workdir, cmd


def test_the_container_command_reaches_the_bot_api_and_serves_the_console(installed: Path, tmp_path: Path) -> None:
    env, workdir, cmd = _containerfile()
    assert cmd == ["wanqi", "run"] and workdir == env["WANQI_DATA_DIR"] == "/data"
    root = tmp_path / "image"  # the image's paths, under a temporary folder
    data = root / "data"
    data.mkdir(parents=True)
    model = root / env["WANQI_NLU__MODEL_DIR"].lstrip("/")
    shutil.copytree(real_model(), model)  # what the build's `wanqi nlu train --out …` step leaves there
    listen = f"127.0.0.1:{free_port()}"  # the image listens on 0.0.0.0:8080; the test on a free loopback port
    assert env["WANQI_WEB_LISTEN"] == "0.0.0.0:8080"
    run_env = _env(installed, {**env, "WANQI_DATA_DIR": str(data), "WANQI_NLU__MODEL_DIR": str(model),
                               "WANQI_WEB_LISTEN": listen, "WANQI_BOT_TOKEN": TOKEN, "WANQI_SUPERVISORS": "1001"})
    _check_installed_copy(installed, run_env, data)
    _start(cmd, run_env, data, listen)
    assert (data / "wanqi.db").is_file()  # the database lives in the volume


def _start(argv: list[str], env: dict[str, str], cwd: Path, listen: str) -> list[str]:
    import asyncio

    async def go() -> list[str]:
        async with BotAPIStandin() as api:
            full = {**env, "WANQI_API_BASE": api.base_url}
            said = await asyncio.to_thread(lambda: list(_run_until_started(argv, full, cwd, listen)))
            assert "getMe" in api.requests, "the stand-in never heard from it"
            return said

    said = asyncio.run(go())
    assert said[0].startswith("万企诉求助手 ") and "已启动" in said[0], said
    return said


def _unit() -> dict[str, str]:
    values: dict[str, str] = {}
    for line in (DEPLOY / "wanqi.service").read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def test_the_systemd_unit_runs_as_written(installed: Path, tmp_path: Path) -> None:
    unit = _unit()
    assert unit["EnvironmentFile"] == "/etc/wanqi/wanqi.env" and unit["KillSignal"] == "SIGTERM"
    # the documented install: the venv's wanqi, `wanqi init /etc/wanqi`, the env file from the example
    etc, state = tmp_path / "etc" / "wanqi", tmp_path / "var" / "lib" / "wanqi"
    state.mkdir(parents=True)
    file_env = dict(line.split("=", 1) for line in (DEPLOY / "wanqi.env.example").read_text(encoding="utf-8")
                    .splitlines() if line and not line.startswith("#"))
    assert file_env["WANQI_DATA_DIR"] == "/var/lib/wanqi" and unit["StateDirectory"] == "wanqi"
    listen = f"127.0.0.1:{free_port()}"
    env = _env(installed, {**file_env, "WANQI_DATA_DIR": str(state), "WANQI_WEB_LISTEN": listen,
                           "WANQI_BOT_TOKEN": TOKEN})
    init = subprocess.run(["wanqi", "init", str(etc)], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert init.returncode == 0 and (etc / "config.yml").is_file(), init.stderr
    assert str(state) in init.stdout  # `wanqi init` says where the data will live
    shutil.copytree(real_model(), state / "models" / "appeals")  # trained on first use otherwise (minutes)
    argv = shlex.split(unit["ExecStart"])
    assert argv[0] == "/opt/wanqi/venv/bin/wanqi" and argv[1:] == ["--config", "/etc/wanqi/config.yml", "run"]
    argv = [str(installed / "bin" / "wanqi"), "--config", str(etc / "config.yml"), *argv[3:]]
    _check_installed_copy(installed, env, state)
    said = _start(argv, env, state, listen)
    assert str(state / "wanqi.db") in said[0]
