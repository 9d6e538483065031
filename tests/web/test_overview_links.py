"""Every tile and table cell of 总览 opens the appeals behind it: the list a link opens holds exactly as many
appeals as the figure says (for a rate: the late ones, the base less the on-time ones)."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from appeals.model import Actor, Role
from tests.bot.harness import SUPERVISOR

from .conftest import Site
from .test_worklist import city, get


async def test_each_figure_links_to_its_appeals(site: Site) -> None:
    made = await city(site)
    h = site.h
    now = datetime.now(UTC)
    # some answered on time, one late, one closed, ratings
    for m, (replied, rating) in zip(made[:4], ((-2, 5), (+3, 1), (-1, None), (-4, 4)), strict=True):
        due = datetime.fromisoformat(h.one("SELECT reply_due FROM appeals WHERE id = ?", [m["id"]])["reply_due"])
        status = "closed" if rating in (4, 5) else "replied"
        h.db.execute("UPDATE appeals SET status = ?, replied_at = ?, closed_at = ?, rating = ? WHERE id = ?",
                     [status, (due + timedelta(hours=replied)).isoformat(),
                      (now if status == "closed" else None) and (due + timedelta(hours=replied + 1)).isoformat(),
                      rating, m["id"]])
    client = await site.login(SUPERVISOR)
    page = await get(client, "/console?period=30d&fresh=1")
    ov = await h.app.services.figures.overview(Actor(SUPERVISOR, Role.SUPERVISOR), *_period(site), fresh=True)
    tax = ov.by_department["tax"]
    expected = {"filed": tax.filed, "late=accept": tax.accept_base - tax.accepted_on_time,
                "answered=yes": tax.answered, "late=reply": tax.reply_base - tax.replied_on_time,
                "status=closed": tax.closed, "late=close": tax.close_base - tax.closed_on_time,
                "rating=any": tax.rated, "rating=poor": tax.poor}
    row = page.split('<th scope="row">市税务局</th>', 1)[1].split("</tr>", 1)[0]
    links = [html.unescape(x) for x in re.findall(r'<a href="([^"]+)"', row)]
    assert len(links) == 13  # every cell of the row is a link
    for key, count in expected.items():
        link = next(x for x in links if (key in x if "=" in key else "late=" not in x and "&" in x
                                         and "department=tax" in x and x.count("=") == 3))
        listing = await get(client, link)
        assert f"共 {count} 件" in listing, (key, link, count)
    assert tax.accept_base - tax.accepted_on_time > 0 and tax.reply_base - tax.replied_on_time > 0
    # 督办 per department: times and appeals, as the supervise events say; the cell opens the urged appeals
    csrf = site.csrf(page)
    for appeal_id, repeat in ((made[4]["id"], "ask"), (made[4]["id"], "include"), (made[5]["id"], "ask")):
        done = await client.post(f"/console/appeals/{appeal_id}/supervise", allow_redirects=False, data={
            "note": "请尽快答复企业", "csrf": csrf, "repeat": repeat})
        assert done.status == 303
    page = await get(client, "/console?period=30d&fresh=1")
    row = page.split('<th scope="row">市金融局</th>', 1)[1].split("</tr>", 1)[0]
    cell = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', row)[-1]
    assert cell[1] == "3 / 2" and "urged=yes" in cell[0]
    assert "共 2 件" in await get(client, html.unescape(cell[0]))
    # the light tiles open 超期与督办 filtered to that light
    assert 'href="/console/overdue?light=red"' in page and 'href="/console/overdue?light=yellow"' in page
    await client.close()


def _period(site: Site) -> tuple[object, object]:
    today = datetime.now(UTC).astimezone(site.ctx.tz).date()
    return today - timedelta(days=29), today
