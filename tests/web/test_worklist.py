"""超期与督办 as the supervisor's worklist, over HTTP: filters, order, paging and per-department counts against a
recount done here; 督办 that sticks (history, confirmation of a repeat, a group with a closed appeal); 诉求's
filters; the Excel downloads; a filter the console does not know."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from appeals.sla import Light, light
from tests.bot.harness import SUPERVISOR, Role
from web import lists

from .conftest import Site

DEPTS = ("tax", "finance", "hrss")
TEXTS = {"tax": "增值税专用发票开不出来，请税务局帮忙", "finance": "申请贷款贴息一直没有回音",
         "hrss": "社保缴费基数调整后系统无法申报"}
# (department, district, hours since dispatch, hours to the deadline (negative: late), status)
PLAN = [
    ("tax", "端州区", 30, -6, "dispatched"), ("tax", "鼎湖区", 100, -70, "accepted"),
    ("tax", "端州区", 9, 1, "accepted"),
    ("tax", "端州区", 2, 40, "dispatched"), ("finance", "高要区", 20, -1, "dispatched"),
    ("finance", "端州区", 45, 3, "accepted"), ("finance", "高要区", 200, -150, "reopened"),
    ("hrss", "四会市", 10, 2, "dispatched"), ("hrss", "四会市", 60, -30, "accepted"),
    ("hrss", "端州区", 1, 90, "accepted"),
]


async def city(site: Site) -> list[dict[str, Any]]:
    """Appeals of three departments and four districts with clocks set around now (red, yellow and green)."""
    h = site.h
    now = datetime.now(UTC)
    made = []
    for n, (dept, district, since, left, status) in enumerate(PLAN):
        uid = 500 + n
        await h.register(uid, f"肇庆工作单测试{n:02d}有限公司")
        appeal_id, _ = await h.file(uid, TEXTS[dept])
        dispatched, due = now - timedelta(hours=since), now + timedelta(hours=left)
        h.db.execute("UPDATE enterprises SET district = ? WHERE owner_id = ?", [district, uid])
        h.db.execute(
            "UPDATE appeals SET department_id = ?, category = ?, status = ?, dispatched_at = ?, accept_due = ?, "
            "reply_due = ?, accepted_at = CASE WHEN ? = 'accepted' THEN ? END WHERE id = ?",
            [dept, {"hrss": "labor"}.get(dept, dept), status, dispatched.isoformat(),
             (due if status != "accepted" else dispatched + timedelta(hours=1)).isoformat(),
             (due if status == "accepted" else due + timedelta(days=5)).isoformat(), status,
             (dispatched + timedelta(minutes=30)).isoformat(), appeal_id])
        made.append({"id": appeal_id, "dept": dept, "district": district, "status": status})
    await h.send(SUPERVISOR, "/start")
    return made


def recount(site: Site, **where: str) -> dict[int, str]:
    """The red and yellow appeals by the SLA rule itself (appeals.sla.light), from the database: id -> light."""
    out = {}
    now = datetime.now(UTC)
    for r in site.h.db.query(
            "SELECT a.id, a.status, a.department_id, a.dispatched_at, a.accept_due, a.reply_due, a.category, "
            "e.district FROM appeals a JOIN enterprises e ON e.id = a.enterprise_id "
            "WHERE a.status IN ('dispatched', 'accepted', 'reopened')"):
        due = datetime.fromisoformat(r["reply_due"] if r["status"] == "accepted" else r["accept_due"])
        level = light(datetime.fromisoformat(r["dispatched_at"]), due, now, site.ctx.settings.sla.yellow_ratio)
        if level is Light.GREEN:
            continue
        urged = bool(list(site.h.db.query("SELECT 1 FROM appeal_events WHERE action = 'supervise' AND appeal_id = ?",
                                          [r["id"]])))
        row = {"department": r["department_id"], "district": r["district"], "status": r["status"],
               "light": level.value, "urged": "yes" if urged else "no", "category": r["category"]}
        if all(row[k] == v for k, v in where.items()):
            out[r["id"]] = level.value
    return out


def shown(page: str) -> list[int]:
    """The appeal ids of the worklist's rows, in order (each row's 督办 form names its appeal)."""
    body = page.split('class="cards work"', 1)[1] if 'class="cards work"' in page else ""
    return [int(x) for x in re.findall(r'<tr class="(?:red|yellow)"><td[^>]*>.*?href="/console/appeals/(\d+)"', body,
                                       flags=re.S)]


def dept_counts(page: str) -> dict[str, tuple[int, int, int]]:
    found = re.findall(r'department=(\w+)[^"]*">[^<]+</a></th>\s*<td><a[^>]*>(\d+)</a></td>\s*<td><a[^>]*>(\d+)</a>'
                       r'</td>\s*<td><a[^>]*>(\d+)</a></td>', page)
    return {d: (int(r), int(y), int(u)) for d, r, y, u in found}


async def get(client: TestClient, path: str) -> str:
    page = await client.get(path)
    assert page.status == 200, (path, page.status, (await page.text())[:300])
    return await page.text()


async def test_filters_order_paging_and_counts_equal_a_recount(site: Site, monkeypatch: Any) -> None:
    made = await city(site)
    client = await site.login(SUPERVISOR)
    everything = recount(site)
    assert set(everything.values()) == {"red", "yellow"} and len(everything) >= 6
    page = await get(client, "/console/overdue")
    assert f"红黄灯诉求（{len(everything)} 件）" in page
    assert sorted(shown(page)) == sorted(everything)
    # yellow first (nearest deadline first), then the newly red (the latest deadline first)
    order = shown(page)
    lights_in_order = [everything[i] for i in order]
    assert lights_in_order == sorted(lights_in_order, key=lambda x: x != "yellow")
    reds = [i for i in order if everything[i] == "red"]
    late_by = {m["id"]: PLAN[n][3] for n, m in enumerate(made)}
    assert [late_by[i] for i in reds] == sorted((late_by[i] for i in reds), reverse=True)
    assert shown(await get(client, "/console/overdue?sort=late"))[0] == min(reds, key=lambda i: late_by[i])
    # every filter, alone and together, is exactly the recount
    for query, where in (("light=yellow", {"light": "yellow"}), ("light=red", {"light": "red"}),
                         ("department=tax", {"department": "tax"}), ("district=高要区", {"district": "高要区"}),
                         ("status=accepted", {"status": "accepted"}), ("category=labor", {"category": "labor"}),
                         ("department=tax&light=red&district=端州区",
                          {"department": "tax", "light": "red", "district": "端州区"})):
        page = await get(client, f"/console/overdue?{query}")
        expected = recount(site, **where)
        assert sorted(shown(page)) == sorted(expected), query
        assert f"红黄灯诉求（{len(expected)} 件）" in page, query
    # per department: red / yellow / urged, under the other filters; the cells are links to those lists
    await client.post(f"/console/appeals/{made[0]['id']}/supervise", data={
        "note": "请今天内签收", "csrf": site.csrf(page)})
    page = await get(client, "/console/overdue?district=端州区")
    counts = dept_counts(page)
    for dept in DEPTS:
        mine = recount(site, department=dept, district="端州区")
        urged = recount(site, department=dept, district="端州区", urged="yes")
        if mine:
            assert counts[dept] == (list(mine.values()).count("red"), list(mine.values()).count("yellow"),
                                    len(urged)), dept
    cell = "/console/overdue?department=tax&amp;light=red&amp;district=%E7%AB%AF%E5%B7%9E%E5%8C%BA"
    assert f'href="{cell}"' in page  # the tax department's red cell opens exactly those appeals
    assert sorted(shown(await get(client, cell.replace("&amp;", "&")))) == sorted(
        recount(site, department="tax", light="red", district="端州区"))
    urged_page = await get(client, "/console/overdue?urged=yes")
    assert shown(urged_page) == [made[0]["id"]] and "督办 1 次" in urged_page
    assert made[0]["id"] not in shown(await get(client, "/console/overdue?urged=no"))
    # paging: the same rows, 3 at a time, in the same order
    monkeypatch.setattr(lists, "PER_PAGE", 3)
    count = -(-len(order) // 3)
    pages = [shown(await get(client, f"/console/overdue?page={n}")) for n in range(1, count + 1)]
    assert [i for p in pages for i in p] == order and all(len(p) <= 3 for p in pages)
    assert f"第 1 / {count} 页" in await get(client, "/console/overdue")
    assert shown(await get(client, f"/console/overdue?page={count + 5}")) == pages[-1]  # a stale link: the last
    await client.close()


async def test_a_handler_sees_only_their_department_whatever_the_link_says(site: Site) -> None:
    await city(site)
    await site.h.join(201, Role.HANDLER, "tax")
    client = await site.login(201)
    page = await get(client, "/console/overdue?department=finance")
    assert sorted(shown(page)) == sorted(recount(site, department="tax"))
    await client.close()


async def test_a_filter_the_console_does_not_know_is_a_polite_400(site: Site) -> None:
    await city(site)
    client = await site.login(SUPERVISOR)
    for query in ("light=purple", "department=nowhere", "page=abc", "status=closed", "start=2026-13-01"):
        page = await client.get(f"/console/overdue?{query}")
        text = await page.text()
        assert page.status == 400 and "筛选条件" in text, (query, page.status)
    assert (await client.get("/console/appeals?urged=maybe")).status == 400
    await client.close()


async def test_a_second_supervise_within_the_interval_asks_first(site: Site) -> None:
    made = await city(site)
    h = site.h
    await h.join(201, Role.HANDLER, "tax")
    client = await site.login(SUPERVISOR)
    target = made[0]["id"]
    page = await get(client, f"/console/appeals/{target}")
    csrf = site.csrf(page)
    first = await client.post(f"/console/appeals/{target}/supervise", data={
        "note": "请今天内签收并联系企业", "csrf": csrf, "back": f"/console/appeals/{target}"}, allow_redirects=False)
    assert first.status == 303 and "supervised=1" in first.headers["Location"]
    shown_after = await get(client, first.headers["Location"])
    assert "已督办 1 件，承办部门已收到通知。" in shown_after  # the saved 督办 is confirmed on the page
    assert "督办记录（1 次）" in shown_after and "请今天内签收并联系企业" in shown_after
    await h.drain()
    told = len([s for s in h.to(201) if "请今天内签收并联系企业" in s.text])
    assert told == 1
    # the same appeal again within 24 hours: a question, nothing written, nobody told again
    again = await client.post(f"/console/appeals/{target}/supervise", data={
        "note": "再催一次", "csrf": csrf, "back": f"/console/appeals/{target}"}, allow_redirects=False)
    text = await again.text()
    assert again.status == 200 and "确认再次督办" in text and "24 小时内已督办过" in text and "再催一次" in text
    events = "SELECT COUNT(*) AS n FROM appeal_events WHERE action = 'supervise' AND appeal_id = ?"
    assert h.one(events, [target])["n"] == 1
    # confirmed
    done = await client.post(f"/console/appeals/{target}/supervise", data={
        "note": "再催一次", "csrf": csrf, "back": f"/console/appeals/{target}", "repeat": "include"},
        allow_redirects=False)
    assert done.status == 303 and h.one(events, [target])["n"] == 2
    page = await get(client, done.headers["Location"])
    assert "督办记录（2 次）" in page and "小时内再次督办需要确认" in page
    await client.close()


async def test_group_supervise_urges_the_open_ones_and_says_which_it_skipped(site: Site) -> None:
    made = await city(site)
    h = site.h
    client = await site.login(SUPERVISOR)
    csrf = site.csrf(await get(client, "/console/hotspots"))
    closed, withdrawn = made[1]["id"], made[2]["id"]
    h.db.execute("UPDATE appeals SET status = 'closed', closed_at = ? WHERE id = ?",
                 [datetime.now(UTC).isoformat(), closed])
    h.db.execute("UPDATE appeals SET status = 'withdrawn' WHERE id = ?", [withdrawn])
    group = [m["id"] for m in made[:5]]
    done = await client.post("/console/supervise", data={
        "csrf": csrf, "note": "同类问题请统一处理", "appeals": ",".join(map(str, group)),
        "back": "/console/hotspots?days=30"}, allow_redirects=False)
    assert done.status == 303, await done.text()
    numbers = {r["id"]: r["number"] for r in h.db.query("SELECT id, number FROM appeals")}
    page = await get(client, done.headers["Location"])
    assert "已督办 3 件" in page and "另有 2 件未督办" in page
    assert f"{numbers[closed]}（已结束）" in page and f"{numbers[withdrawn]}（已结束）" in page
    urged = {r["appeal_id"] for r in h.db.query("SELECT appeal_id FROM appeal_events WHERE action = 'supervise'")}
    assert urged == set(group) - {closed, withdrawn}
    # the same group at once: the three just urged are repeats; leaving them out leaves nothing to urge
    again = await client.post("/console/supervise", data={
        "csrf": csrf, "note": "再催", "appeals": ",".join(map(str, group)), "back": "/console/hotspots"})
    assert "确认再次督办" in await again.text()
    skip = await client.post("/console/supervise", data={
        "csrf": csrf, "note": "再催", "appeals": ",".join(map(str, group)), "back": "/console/hotspots",
        "repeat": "skip"})
    assert skip.status == 400 and "没有可督办的诉求" in await skip.text()
    await client.close()


async def test_appeal_list_filters_and_overdue(site: Site) -> None:
    made = await city(site)
    client = await site.login(SUPERVISOR)
    page = await get(client, "/console/appeals?overdue=1")
    reds = recount(site, light="red")
    assert f"共 {len(reds)} 件" in page
    assert sorted(int(x) for x in re.findall(r'data-label="诉求编号"><a href="/console/appeals/(\d+)"',
                                              page)) == sorted(reds)
    page = await get(client, "/console/appeals?district=四会市")
    assert "共 2 件" in page
    page = await get(client, "/console/appeals?department=finance&light=yellow")
    assert f"共 {len(recount(site, department='finance', light='yellow'))} 件" in page
    assert made  # the late-accept filter equals the figure's late count: tests/web/test_overview_links.py
    await client.close()


async def test_every_list_downloads_as_excel(site: Site) -> None:
    from openpyxl import load_workbook

    await city(site)
    client = await site.login(SUPERVISOR)
    for path, sheet, rows in (("/console/overdue?format=xlsx&light=red", "超期与督办", len(recount(site, light="red"))),
                              ("/console/appeals?format=xlsx&district=四会市", "诉求", 2),
                              ("/console?period=30d&format=xlsx", "部门指标", None),
                              ("/console/hotspots?format=xlsx", "热点", None)):
        resp = await client.get(path)
        assert resp.status == 200, path
        assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats"), path
        assert "attachment" in resp.headers["Content-Disposition"]
        book = load_workbook(io.BytesIO(await resp.read()))
        assert sheet in book.sheetnames, (path, book.sheetnames)
        if rows is not None:
            assert book[sheet].max_row - 1 == rows, path
        if sheet == "部门指标":
            assert "督办" in book.sheetnames and "周趋势" in book.sheetnames
    await client.close()


async def test_pages_go_compressed(site: Site) -> None:
    await city(site)
    client = await site.login(SUPERVISOR)
    for path in ("/console/overdue", "/console", "/console/appeals", "/console/hotspots"):
        resp = await client.get(path, headers={"Accept-Encoding": "gzip, deflate"})
        assert resp.status == 200 and resp.headers.get("Content-Encoding") == "gzip", path
        assert "</html>" in await resp.text()  # the client inflates it
    plain = await client.get("/console/overdue", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    await client.close()
