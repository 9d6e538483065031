"""Regenerate the console screenshots in docs/ from a generated year of appeals, in headless chromium.

    .venv/bin/python docs/screenshots.py            # needs Debian's chromium (see .ci/run)

The data come from benchmarks/console.py's generator (3,000 appeals, 600 enterprises, sample texts), the
console is served in-process on 127.0.0.1 and driven over the DevTools protocol (tests/web/cdp.py).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.console import generate  # noqa: E402
from bootstrap import NoClassifier, build_core  # noqa: E402
from config import load_settings  # noqa: E402
from tests.web.cdp import Browser  # noqa: E402
from web.context import WebContext  # noqa: E402
from web.server import start  # noqa: E402

PAGES = (("overview", "/console?period=365d"), ("overdue", "/console/overdue"), ("appeals", "/console/appeals"),
         ("appeal", "/console/appeals/{urged}"), ("hotspots", "/console/hotspots?days=30"),
         ("policies", "/console/policies"))
PHONE = "/console/overdue?light=yellow"  # the supervisor's Monday on a phone: the appeals still savable


def figures(core: Any) -> str:
    """The README's figures of the generated year: the console's (SQL) and a recount of the definitions on rows."""
    from appeals.metrics import count_rows, summarise
    from appeals.model import SYSTEM
    from storage.figures import period_rows

    end = datetime.now(core.figures.tz).date()
    start = end.replace(year=end.year - 1) + timedelta(days=1)
    shown = core.figures.overview(SYSTEM, start, end, fresh=True).total
    rows = count_rows(period_rows(core.db, start, end, core.figures.tz), start=start, end=end, now=core.clock.now(),
                      calendar=core.figures.calendar, tz=core.figures.tz)
    again = summarise(rows, start=start, end=end, lights={}).total
    def say(value: object) -> str:
        return f"{value:.1%}" if isinstance(value, float) else str(value)

    names = (("受理量", "filed"), ("按时签收率", "accept_rate"), ("答复量", "answered"), ("按时答复率", "reply_rate"),
             ("办结量", "closed"), ("按时办结率", "close_rate"), ("满意率", "satisfaction"))
    return "\n".join(f"{name}: shown {say(getattr(shown, attr))}, recounted {say(getattr(again, attr))}"
                     for name, attr in names)


async def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="wanqi-shots-"))
    db = work / "shots.db"
    generate(db, 3000, 600)
    settings = load_settings(HERE.parent / "config.yml", env={"WANQI_DATABASE": str(db), "WANQI_SUPERVISORS": "900"})
    core = build_core(settings, classifier=NoClassifier(), sync_catalogue=False)
    print(figures(core))
    runner = await start(WebContext(settings, core.services(), core.clock), "127.0.0.1:0")
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    token = core.web.create_login_link(900, datetime.now(UTC))
    try:
        async with Browser(work / "profile") as browser:
            await browser.size(1366, 900)
            await browser.goto(f"{base}/console/login?token={token}")
            await browser.submit("login")
            urged = core.db.execute(  # a running appeal already urged: its page shows the 督办 record and form
                "SELECT a.id FROM appeals a JOIN appeal_events s ON s.appeal_id = a.id AND s.action = 'supervise' "
                "WHERE a.status IN ('dispatched', 'accepted', 'reopened') ORDER BY a.id DESC LIMIT 1").fetchone()[0]
            for name, path in PAGES:
                await browser.goto(base + path.format(urged=urged))
                await browser.screenshot(HERE / f"console-{name}.png", max_height=1800)
                print(f"docs/console-{name}.png")
            await browser.size(390, 844, mobile=True)
            await browser.goto(base + PHONE)
            await browser.screenshot(HERE / "console-phone.png", max_height=2400)
            print("docs/console-phone.png")
            if browser.errors:
                raise SystemExit(f"console errors: {browser.errors}")
    finally:
        await runner.cleanup()
        core.close()


if __name__ == "__main__":
    asyncio.run(main())
