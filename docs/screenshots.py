"""Regenerate the console screenshots in docs/ from a generated year of appeals, in headless chromium.

    .venv/bin/python docs/screenshots.py            # needs Debian's chromium (see .ci/run)

The data come from benchmarks/console.py's generator (3,000 appeals, 600 enterprises, sample texts), the
console is served in-process on 127.0.0.1 and driven over the DevTools protocol (tests/web/cdp.py).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.console import generate  # noqa: E402
from bootstrap import NoClassifier, build_core  # noqa: E402
from config import load_settings  # noqa: E402
from tests.web.cdp import Browser  # noqa: E402
from web.context import WebContext  # noqa: E402
from web.server import start  # noqa: E402

PAGES = (("overview", "/console?period=365d"), ("overdue", "/console/overdue"), ("appeals", "/console/appeals"),
         ("appeal", "/console/appeals/2950"), ("hotspots", "/console/hotspots?days=30"),
         ("policies", "/console/policies"))


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="wanqi-shots-"))
    db = work / "shots.db"
    generate(db, 3000, 600)
    settings = load_settings(HERE.parent / "config.yml", env={"WANQI_DATABASE": str(db), "WANQI_SUPERVISORS": "900"})
    core = build_core(settings, classifier=NoClassifier(), sync_catalogue=False)
    runner = await start(WebContext(settings, core.services(), core.clock), "127.0.0.1:0")
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    token = core.web.create_login_link(900, datetime.now(UTC))
    try:
        async with Browser(work / "profile") as browser:
            await browser.size(1366, 900)
            await browser.goto(f"{base}/console/login?token={token}")
            await browser.submit("login")
            for name, path in PAGES:
                await browser.goto(base + path)
                await browser.screenshot(HERE / f"console-{name}.png", max_height=1800)
                print(f"docs/console-{name}.png")
            await browser.size(390, 844, mobile=True)
            await browser.goto(base + "/console/appeals/2950")
            await browser.screenshot(HERE / "console-phone.png")
            print("docs/console-phone.png")
            if browser.errors:
                raise SystemExit(f"console errors: {browser.errors}")
    finally:
        await runner.cleanup()
        core.close()


if __name__ == "__main__":
    asyncio.run(main())
