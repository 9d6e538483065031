"""The console in headless chromium on a generated year: 超期与督办 filtered to yellow at 1366 px and at a
phone's 390 px with no element outside the viewport and the 督办 action visible; and, over every page, the
accessibility a person relies on: a label for every input, text contrast of at least 4.5:1 (3:1 for large
text), a word or mark beside every colour of a light, names for the charts.

The checks run in the page (JavaScript over the rendered DOM and computed styles), not on the HTML source.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from benchmarks.console import generate
from bootstrap import NoClassifier, build_core
from config import load_settings
from tests.support import ROOT
from web.context import WebContext
from web.server import start

from .cdp import Browser, chromium

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(chromium() is None, reason="chromium is not installed (CI installs it: .ci/run)")]

# Elements whose box lies outside the viewport (the page must not scroll sideways, nor hide a part).
OUTSIDE = """(() => {
  const w = document.documentElement.clientWidth, out = [];
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || s.visibility === 'hidden' || s.display === 'none') continue;
    let hidden = false;  // visually hidden, kept for screen readers (clipped to nothing): not on the screen
    for (let e = el; e && !hidden; e = e.parentElement) {
      hidden = getComputedStyle(e).clip === 'rect(0px, 0px, 0px, 0px)';
    }
    if (hidden) continue;
    if (r.left < -1 || r.right > w + 1) {
      out.push(el.tagName + '.' + el.className + ' ' + Math.round(r.left) + '..' + Math.round(r.right) + ' '
               + (el.textContent || '').trim().slice(0, 30));
    }
  }
  return {width: w, scroll: document.documentElement.scrollWidth, out: out.slice(0, 10)};
})()"""

# Labels, contrast, names (WCAG 2.1: 1.3.1 / 4.1.2 labels, 1.4.3 contrast, 1.4.1 use of colour).
AUDIT = """(() => {
  const problems = [];
  const lum = c => { const v = c / 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const rgb = s => { const m = s.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
                     const p = m[1].split(',').map(x => parseFloat(x));
                     return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const L = c => 0.2126 * lum(c.r) + 0.7152 * lum(c.g) + 0.0722 * lum(c.b);
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden') continue;
    const named = (el.labels && el.labels.length) || el.getAttribute('aria-label')
                  || el.getAttribute('aria-labelledby');
    if (!named) problems.push('no label: ' + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const s = getComputedStyle(el), r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1 || s.visibility === 'hidden' || el.closest('.vh, .skip, option, title')) continue;
    const fg = rgb(el instanceof SVGElement ? s.fill : s.color);
    if (!fg) continue;
    const bg = background(el instanceof SVGElement ? el.closest('svg').parentElement : el);
    const a = L(fg) + 0.05, b = L(bg) + 0.05, ratio = Math.max(a, b) / Math.min(a, b);
    const size = parseFloat(s.fontSize) * (el instanceof SVGElement ? el.closest('svg').getBoundingClientRect().width
                                           / el.closest('svg').viewBox.baseVal.width : 1);
    const large = size >= 24 || (size >= 18.66 && parseInt(s.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push('contrast ' + ratio.toFixed(2) + ': ' + el.tagName + '.'
                                               + el.className + ' "' + el.textContent.trim().slice(0, 20) + '"');
  }
  for (const el of document.querySelectorAll('.badge, .tile.light')) {
    if (!el.textContent.trim()) problems.push('a colour without a word: ' + el.outerHTML.slice(0, 80));
  }
  for (const svg of document.querySelectorAll('svg')) {
    if (!svg.getAttribute('aria-label') && !svg.querySelector('title')) problems.push('an unnamed chart');
  }
  if (!document.documentElement.lang) problems.push('no page language');
  return problems;
})()"""


@dataclass
class Console:
    base: str
    link: str


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated year (benchmarks/console.py's generator), made once for the module's tests."""
    db = tmp_path_factory.mktemp("a11y") / "year.db"
    generate(db, 1500, 300)
    return db


@pytest.fixture
async def console(year: Path) -> AsyncIterator[Console]:
    settings = load_settings(ROOT / "config.yml", env={"WANQI_DATABASE": str(year), "WANQI_SUPERVISORS": "900"})
    core = build_core(settings, classifier=NoClassifier(), sync_catalogue=False)
    runner = await start(WebContext(settings, core.services(), core.clock), "127.0.0.1:0")
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield Console(base, f"{base}/console/login?token={core.web.create_login_link(900, datetime.now(UTC))}")
    finally:
        await runner.cleanup()
        core.close()


async def _logged_in(browser: Browser, c: Console) -> None:
    await browser.size(1366, 900)
    await browser.goto(c.link)
    await browser.submit("login")


async def _check(browser: Browser, shots: Path, name: str) -> dict[str, Any]:
    found: dict[str, Any] = await browser.evaluate(OUTSIDE)
    await browser.screenshot(shots / f"{name}.png", max_height=2400)
    return found


async def test_the_yellow_worklist_fits_a_desktop_and_a_phone(console: Console, tmp_path: Path) -> None:
    shots = tmp_path / "shots"
    shots.mkdir()
    async with Browser(tmp_path / "profile") as browser:
        await _logged_in(browser, console)
        for width, height, mobile in ((1366, 900, False), (390, 844, True)):
            await browser.size(width, height, mobile=mobile)
            await browser.goto(console.base + "/console/overdue?light=yellow")
            body = await browser.evaluate("document.body.innerText")
            assert "红黄灯诉求" in body and "黄灯（临期）" in body, body[:300]
            assert "红灯（超期）" not in await browser.evaluate(
                "[...document.querySelectorAll('table.work tbody tr')].map(r => r.innerText).join(' ')")
            found = await _check(browser, shots, f"overdue-yellow-{width}")
            assert found["out"] == [] and found["scroll"] <= found["width"] + 1, (width, found)
            # the 督办 action of the first row is on screen, its button within the width
            button = await browser.evaluate(
                "(() => { const b = document.querySelector('table.work td.action button'); if (!b) return null;"
                " const r = b.getBoundingClientRect();"
                " return [r.left, r.right, document.documentElement.clientWidth]; })()")
            assert button is not None and button[0] >= 0 and button[1] <= button[2], (width, button)
        assert browser.errors == [], browser.errors


async def test_every_page_has_labels_contrast_and_words_beside_colours(console: Console, tmp_path: Path) -> None:
    pages = ("/console?period=365d", "/console/overdue", "/console/overdue?light=red&urged=no", "/console/appeals",
             "/console/appeals?overdue=1", "/console/appeals/42", "/console/hotspots?days=60", "/console/policies")
    async with Browser(tmp_path / "profile") as browser:
        await _logged_in(browser, console)
        for width, mobile in ((1366, False), (390, True)):
            await browser.size(width, 844, mobile=mobile)
            for path in pages:
                await browser.goto(console.base + path)
                problems = await browser.evaluate(AUDIT)
                assert problems == [], (width, path, json.dumps(problems, ensure_ascii=False)[:1500])
        assert browser.errors == [], browser.errors
