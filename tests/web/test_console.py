"""The console over HTTP: login links, sessions, CSRF, role scoping, and every page with its actions."""

from __future__ import annotations

import re

from tests.bot.harness import SUPERVISOR, Role

from .conftest import Site, staffed


async def test_login_link_works_once_and_logout_ends_the_session(site: Site) -> None:
    await staffed(site)
    token = await site.h.app.services.web.create_login_link(SUPERVISOR, site.ctx.now())
    first = await site.client.post("/console/login", data={"token": token}, allow_redirects=False)
    assert first.status == 303
    cookie = first.cookies["wanqi_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    again = await site.client.post("/console/login", data={"token": token}, allow_redirects=False)
    assert again.status == 403 and "已使用" in await again.text()
    client = await site.login(SUPERVISOR)
    home = await client.get("/console")
    assert home.status == 200 and "按时签收率" in await home.text()
    out = await client.post("/console/logout", data={"csrf": site.csrf(await home.text())}, allow_redirects=False)
    assert out.status == 303
    assert (await client.get("/console")).status == 401
    await client.close()


async def test_without_a_session_the_console_asks_for_a_link(site: Site) -> None:
    page = await site.client.get("/console/appeals")
    assert page.status == 401 and "/console" in await page.text()
    assert (await site.client.get("/console/login?token=nonsense")).status == 200  # a button, nothing spent
    assert (await site.client.post("/console/login", data={"token": "nonsense"})).status == 403


async def test_the_bot_sends_a_console_link_to_staff_only(site: Site) -> None:
    await staffed(site)
    sent = (await site.h.send(SUPERVISOR, "/console"))[-1]
    assert "/console/login?token=" in sent.text
    token = sent.text.split("token=")[1].split()[0]
    ok = await site.client.post("/console/login", data={"token": token}, allow_redirects=False)
    assert ok.status == 303
    refused = (await site.h.send(101, "/console"))[-1]
    assert "token=" not in refused.text


async def test_csrf_is_required_on_every_form(site: Site) -> None:
    ids = await staffed(site)
    client = await site.login(SUPERVISOR)
    no_token = await client.post(f"/console/appeals/{ids['tax']}/note", data={"text": "内部备注内容"})
    assert no_token.status == 403
    wrong = await client.post(f"/console/appeals/{ids['tax']}/note", data={"text": "内部备注内容", "csrf": "x"})
    assert wrong.status == 403
    page = await client.get(f"/console/appeals/{ids['tax']}")
    ok = await client.post(f"/console/appeals/{ids['tax']}/note",
                           data={"text": "已电话联系企业", "csrf": site.csrf(await page.text())})
    assert ok.status == 200 and "已电话联系企业" in await ok.text()
    await client.close()


async def test_a_handler_sees_only_their_department(site: Site) -> None:
    ids = await staffed(site)
    client = await site.login(201)  # tax handler
    listing = await (await client.get("/console/appeals")).text()
    assert "开不出来" in listing and "贴息" not in listing
    assert (await client.get(f"/console/appeals/{ids['loan']}")).status == 404
    assert (await client.get(f"/console/appeals/{ids['tax']}")).status == 200
    overview = await (await client.get("/console?period=7d")).text()
    assert "市税务局" in overview and "市金融局" not in overview
    # a handler may not dispatch or supervise, whatever the form says
    page = await (await client.get(f"/console/appeals/{ids['tax']}")).text()
    refused = await client.post(f"/console/appeals/{ids['tax']}/supervise",
                                data={"note": "请尽快办理", "csrf": site.csrf(page)})
    assert refused.status == 400 and "权限" in await refused.text()
    await client.close()


async def test_removed_staff_lose_the_console_at_once(site: Site) -> None:
    await staffed(site)
    client = await site.login(202)
    assert (await client.get("/console")).status == 200
    await site.h.app.services.repo.set_user(202, role=None, department_id=None)
    assert (await client.get("/console")).status == 401
    await client.close()


async def test_a_supervisor_removed_with_wanqi_staff_loses_the_console_though_still_in_the_environment(
        site: Site) -> None:
    await staffed(site)
    h = site.h
    await h.send(9003, "/start")
    await h.send(SUPERVISOR, "/staff role 9003 supervisor")
    client = await site.login(SUPERVISOR)
    assert (await client.get("/console")).status == 200
    await h.send(9003, "/staff remove 9001")  # SUPERVISOR (9001) is in WANQI_SUPERVISORS of this process
    assert h.one("SELECT role FROM users WHERE id = 9001")["role"] is None
    assert (await client.get("/console")).status == 401
    await client.close()


async def test_every_page_renders_for_a_supervisor(site: Site) -> None:
    ids = await staffed(site)
    client = await site.login(SUPERVISOR)
    for path, expected in (("/console", "每周受理、答复与办结"), ("/console?period=year", "本年"),
                           ("/console?period=custom&start=2026-01-01&end=2026-12-31", "2026-01-01"),
                           ("/console/overdue", "红黄灯诉求"), ("/console/appeals", "肇庆甲制造有限公司"),
                           ("/console/appeals?q=贴息", "贴息"), ("/console/appeals?status=submitted", "诉求"),
                           (f"/console/appeals/{ids['tax']}", "办理记录"), ("/console/hotspots", "热点"),
                           ("/console/policies", "政策目录")):
        page = await client.get(path)
        assert page.status == 200, path
        assert expected in await page.text(), path
        assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert (await client.get("/console/static/console.css")).status == 200
    assert (await client.get("/console/appeals/999999")).status == 404
    await client.close()


async def test_dispatch_supervise_and_extension_from_the_console(site: Site) -> None:
    ids = await staffed(site)
    h = site.h
    client = await site.login(SUPERVISOR)
    csrf = site.csrf(await (await client.get("/console")).text())
    # re-dispatch the loan appeal to the tax department; its handler gets the card in the bot
    moved = await client.post(f"/console/appeals/{ids['loan']}/dispatch", data={"category": "tax", "csrf": csrf})
    assert moved.status == 200
    assert h.one("SELECT department_id FROM appeals WHERE id = ?", [ids["loan"]])["department_id"] == "tax"
    await h.drain()  # the console step queued its notices; the delivery worker sends them
    assert any("贴息" in s.text for s in h.to(201))
    # 督办 note reaches the department
    await client.post(f"/console/appeals/{ids['tax']}/supervise", data={"note": "请今天内联系企业", "csrf": csrf})
    await h.drain()
    assert any("请今天内联系企业" in s.text for s in h.to(201))
    # an extension request decided from the console
    await h.act(201, "acc", ids["tax"])
    await h.act(201, "ext", ids["tax"])
    await h.send(201, "3 需要跨部门会商")
    assert h.one("SELECT extension_status FROM appeals WHERE id = ?", [ids["tax"]])["extension_status"] == "requested"
    overdue = await (await client.get("/console/overdue")).text()
    assert "需要跨部门会商" in overdue
    await client.post(f"/console/appeals/{ids['tax']}/extension", data={"decision": "approve", "csrf": csrf})
    assert h.one("SELECT extension_status FROM appeals WHERE id = ?", [ids["tax"]])["extension_status"] == "approved"
    await client.close()


async def test_hotspots_group_similar_appeals_from_several_enterprises(site: Site) -> None:
    h = site.h
    for uid in (111, 112, 113, 114):
        await h.register(uid, f"肇庆测试{uid}有限公司")
    texts = ["端州区工业园停电三天了，影响生产，请尽快恢复供电", "工业园区又停电了，生产线停工，请尽快恢复供电",
             "我们在工业园，停电两天影响生产，希望尽快恢复供电", "想咨询高新技术企业认定的补贴怎么申请"]
    for uid, text in zip((111, 112, 113, 114), texts, strict=True):
        await h.file(uid, text)
    await h.send(SUPERVISOR, "/start")
    client = await site.login(SUPERVISOR)
    page = await (await client.get("/console/hotspots?days=30")).text()
    assert "3 件，3 家企业" in page and "恢复供电" in page and "高新技术" not in page
    ids = [r["id"] for r in h.db.query("SELECT id FROM appeals WHERE text LIKE '%停电%'")]
    # the group goes to its department as one 督办 (they sit in the dispatcher queue: dispatch first)
    csrf = site.csrf(page)
    for appeal_id in ids:
        await client.post(f"/console/appeals/{appeal_id}/dispatch", data={"category": "utilities", "csrf": csrf})
    await h.join(401, Role.HANDLER, "urban")
    before = len(h.to(401))
    group = re.search(r'name="appeals" value="([0-9,]+)"', page)  # what the group's 督办 form sends
    assert group is not None and sorted(map(int, group[1].split(","))) == sorted(ids)
    done = await client.post("/console/supervise", data={"csrf": csrf, "note": "集中停电请统一处理",
                                                         "appeals": group[1]})
    assert done.status == 200
    await h.drain()
    told = h.to(401)[before:]
    assert len(told) == 1 and "同类诉求 3 件" in told[0].text, [t.text[:80] for t in told]
    events = h.one("SELECT COUNT(*) AS n FROM appeal_events WHERE action = 'supervise'")
    assert events["n"] == 3
    await client.close()


async def test_center_staff_confirm_an_enterprise_a_partner_filed_for(site: Site) -> None:
    from tests.bot.harness import credit_code

    await staffed(site)
    key = await site.h.app.services.web.create_key("form", site.ctx.now())
    code = credit_code("91441200MA4W0999")
    posted = await site.client.post("/open311/v2/requests.json", data={
        "api_key": key, "service_code": "tax", "description": "网上申报系统无法登录，请税务局协助",
        "attribute[credit_code]": code, "attribute[enterprise]": "肇庆新来的有限公司"})
    number = (await posted.json())[0]["service_request_id"]
    appeal_id = site.h.one("SELECT id FROM appeals WHERE number = ?", [number])["id"]
    handler = await site.login(201)
    page = await (await handler.get(f"/console/appeals/{appeal_id}")).text()
    assert "待核实" in page and "合作系统" in page and "确认企业信息" not in page  # handlers do not confirm
    refused = await handler.post(f"/console/appeals/{appeal_id}/verify", data={"csrf": site.csrf(page)})
    assert refused.status == 400
    client = await site.login(SUPERVISOR)
    page = await (await client.get(f"/console/appeals/{appeal_id}")).text()
    assert "确认企业信息" in page
    done = await client.post(f"/console/appeals/{appeal_id}/verify", data={"csrf": site.csrf(page)})
    assert done.status == 200 and "确认企业信息" not in await done.text()
    assert site.h.one("SELECT verified FROM enterprises WHERE credit_code = ?", [code])["verified"] == 1
    await handler.close()
    await client.close()
