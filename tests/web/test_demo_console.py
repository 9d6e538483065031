"""`wanqi demo --console` as a user runs it, and the console in a real headless chromium.

The demo plays its journey with the real trained model, then keeps its database served on 127.0.0.1 and
prints a login link. The browser logs in with a link, loads every page, screenshots each and reports no
console errors. With WANQI_SCREENSHOTS=DIR the screenshots are kept there (docs/ holds the shipped ones).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.support import ROOT

from .cdp import Browser, chromium

WANQI = str(Path(sys.executable).parent / "wanqi")  # the console script, as a user runs it
PAGES = (("overview", "/console?period=year", "按时办结率"), ("overdue", "/console/overdue", "红黄灯诉求"),
         ("appeals", "/console/appeals", "肇庆星河精密制造有限公司"), ("appeal", "/console/appeals/2", "办理记录"),
         ("hotspots", "/console/hotspots", "热点"), ("policies", "/console/policies", "政策目录"))


@dataclass
class Demo:
    proc: subprocess.Popen[str]
    base: str
    link: str
    workdir: Path
    output: list[str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    port = _free_port()
    proc = subprocess.Popen(
        [WANQI, "--config", str(ROOT / "config.yml"), "demo", "--workdir",
         str(tmp_path), "--console", "--listen", f"127.0.0.1:{port}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    output: list[str] = []
    found = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if "token=" in line:
                found.set()
        found.set()

    threading.Thread(target=read, daemon=True).start()
    found.wait(240)
    links = [m.group(0) for line in output for m in [re.search(r"http://\S+token=\S+", line)] if m]
    try:
        assert links, "".join(output)
        yield Demo(proc, f"http://127.0.0.1:{port}", links[0], tmp_path, output)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _second_link(d: Demo) -> str:
    """Another one-time link for the demo's supervisor, from `wanqi web link` on the demo's database."""
    env = {**os.environ, "WANQI_DATABASE": str(d.workdir / "demo.db"),
           "WANQI_WEB_LISTEN": d.base.removeprefix("http://"), "WANQI_SUPERVISORS": "3001"}
    out = subprocess.run([WANQI, "--config", str(ROOT / "config.yml"), "web", "link",
                          "--user", "3001"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr + out.stdout
    return out.stdout.strip().splitlines()[-1]


@pytest.mark.slow
async def test_demo_leaves_its_database_in_the_console(demo: Demo) -> None:
    assert demo.link.startswith(demo.base + "/console/login?token=")
    token = demo.link.split("token=")[1]
    # unsafe=True: aiohttp's client (unlike browsers) keeps no cookies of bare IP addresses otherwise
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{demo.base}/console/login", data={"token": token}) as done:
            assert done.status == 200  # redirected to 总览
            assert "受理量" in await done.text()
        async with http.get(f"{demo.base}/console/appeals") as page:
            text = await page.text()
            assert page.status == 200 and text.count("/console/appeals/") >= 2
        async with http.post(f"{demo.base}/console/login", data={"token": token}) as again:
            assert again.status == 403  # a used link is refused
    demo.proc.send_signal(signal.SIGINT)
    assert demo.proc.wait(20) == 0


@pytest.mark.slow
@pytest.mark.skipif(chromium() is None, reason="chromium is not installed (CI installs it: .ci/run)")
async def test_headless_chromium_logs_in_and_renders_every_page(demo: Demo, tmp_path: Path) -> None:
    keep = Path(os.environ["WANQI_SCREENSHOTS"]) if os.environ.get("WANQI_SCREENSHOTS") else tmp_path / "shots"
    keep.mkdir(parents=True, exist_ok=True)
    link = await asyncio.to_thread(_second_link, demo)
    async with Browser(tmp_path / "profile") as browser:
        await browser.size(1366, 900)
        await browser.goto(link)
        assert await browser.evaluate("document.title") is not None
        await browser.submit("login")
        assert await browser.evaluate("location.pathname") == "/console"
        for name, path, expected in PAGES:
            await browser.goto(demo.base + path)
            body = await browser.evaluate("document.body.innerText")
            assert expected in body, (name, body[:500])
            png = await browser.screenshot(keep / f"console-{name}.png")
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5_000
        # a phone: the same page stays usable (no horizontal page scroll outside the tables)
        await browser.size(390, 844, mobile=True)
        await browser.goto(demo.base + "/console/appeals/2")
        overflow = await browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        await browser.screenshot(keep / "console-phone.png")
        assert overflow
        assert browser.errors == [], browser.errors


@pytest.mark.slow
async def test_wanqi_web_serves_the_console_and_the_api_alone(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "WANQI_DATABASE": str(tmp_path / "web.db")}
    proc = subprocess.Popen([WANQI, "--config", str(ROOT / "config.yml"), "web", "--listen", f"127.0.0.1:{port}"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(240):
                try:
                    async with http.get(f"http://127.0.0.1:{port}/open311/v2/services.json") as resp:
                        assert resp.status == 200 and len(await resp.json()) >= 10
                        break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.5)
            else:
                raise AssertionError("wanqi web did not start")
            async with http.get(f"http://127.0.0.1:{port}/console") as page:
                assert page.status == 401 and "/console" in await page.text()
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err
