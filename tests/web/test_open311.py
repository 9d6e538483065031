"""The Open311 GeoReport v2 partner API: a standard client's flow, confidentiality, keys, limits, audit."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.bot.harness import credit_code

from .conftest import Site, staffed

API = "/open311/v2"


async def test_a_standard_client_lists_services_and_reads_public_status(site: Site) -> None:
    ids = await staffed(site)
    services = await site.client.get(f"{API}/services.json")
    assert services.status == 200 and services.content_type == "application/json"
    body = await services.json()
    tax = next(s for s in body if s["service_code"] == "tax")
    assert tax["service_name"] == "税费与发票" and tax["group"] == "市税务局" and tax["type"] == "realtime"
    definition = await (await site.client.get(f"{API}/services/tax.json")).json()
    assert [a["code"] for a in definition["attributes"]] == ["credit_code", "contact", "phone"]
    assert definition["attributes"][0]["required"] is True
    number = site.h.one("SELECT number FROM appeals WHERE id = ?", [ids["tax"]])["number"]
    one = await site.client.get(f"{API}/requests/{number}.json")
    assert one.status == 200
    [req] = await one.json()
    assert req["service_request_id"] == number and req["status"] == "open"
    assert req["status_notes"] == "待签收" and req["agency_responsible"] == "市税务局"
    assert req["requested_datetime"].endswith("+08:00") and req["expected_datetime"].endswith("+08:00")
    # confidential: no text, enterprise or contact without the filing partner's key
    assert "description" not in req and "attribute" not in req
    assert "开不出来" not in await (await site.client.get(f"{API}/requests.json")).text()


async def test_errors_have_the_standard_shape(site: Site) -> None:
    missing = await site.client.get(f"{API}/requests/ZQ00000000-0000.json")
    assert missing.status == 404 and (await missing.json())[0]["code"] == 404
    assert (await site.client.get(f"{API}/services/nope.json")).status == 404
    assert (await site.client.get(f"{API}/services.xml")).status == 400
    bad = await site.client.get(f"{API}/requests.json", params={"status": "pending"})
    assert bad.status == 400 and "open" in (await bad.json())[0]["description"]
    anonymous = await site.client.post(f"{API}/requests.json", data={"description": "路灯坏了很久"})
    assert anonymous.status == 403


async def test_a_partner_files_and_sees_its_own_requests_in_full(site: Site) -> None:
    await staffed(site)
    key = await site.h.app.services.web.create_key("hotline", site.ctx.now())
    code = credit_code("91441200MA4W0777")
    form = {"api_key": key, "service_code": "tax", "description": "企业反映：增值税发票无法开具，影响出口退税",
            "attribute[credit_code]": code, "first_name": "小明", "last_name": "王", "phone": "13900001111",
            "media_url": "https://partner.example/photo/1.jpg"}
    created = await site.client.post(f"{API}/requests.json", data=form, headers={"Idempotency-Key": "t-1"})
    assert created.status == 201, await created.text()
    [ack] = await created.json()
    number = ack["service_request_id"]
    assert number.startswith("ZQ") and "市税务局" in ack["service_notice"]
    again = await site.client.post(f"{API}/requests.json", data=form, headers={"Idempotency-Key": "t-1"})
    assert again.status == 200 and (await again.json())[0]["service_request_id"] == number
    row = site.h.one("SELECT * FROM appeals WHERE number = ?", [number])
    assert row["channel"] == "open311" and row["department_id"] == "tax"
    ent = site.h.one("SELECT * FROM enterprises WHERE credit_code = ?", [code])
    assert ent["verified"] == 0 and ent["contact"] == "王 小明"
    # the tax department got the card through the same outbox as a Telegram appeal
    await site.h.drain()
    assert any(number in s.text for s in site.h.to(201))
    [mine] = await (await site.client.get(f"{API}/requests/{number}.json", params={"api_key": key})).json()
    assert mine["description"].startswith("企业反映") and mine["attribute"]["credit_code"] == code
    [public] = await (await site.client.get(f"{API}/requests/{number}.json")).json()
    assert "description" not in public
    # JSON bodies work too; no service_code means our NLU classifies
    posted = await site.client.post(f"{API}/requests.json", json={
        "api_key": key, "description": "想咨询贷款贴息政策", "attribute": {"credit_code": code}})
    assert posted.status == 201
    listing = await (await site.client.get(f"{API}/requests.json", params={"api_key": key, "status": "open"})).json()
    second = (await posted.json())[0]["service_request_id"]
    assert {r["service_request_id"] for r in listing if "description" in r} == {number, second}


async def test_bad_input_is_refused_with_400(site: Site) -> None:
    key = await site.h.app.services.web.create_key("form", site.ctx.now())
    no_code = await site.client.post(f"{API}/requests.json", data={"api_key": key, "description": "问题描述"})
    assert no_code.status == 400
    bad_code = await site.client.post(f"{API}/requests.json", data={
        "api_key": key, "description": "问题描述", "attribute[credit_code]": "123"})
    assert bad_code.status == 400 and "18" in (await bad_code.json())[0]["description"]
    assert (await site.client.post(f"{API}/requests.json", data="{", headers={
        "Content-Type": "application/json"})).status == 400


async def test_a_revoked_key_is_refused_and_every_call_is_audited(site: Site) -> None:
    web = site.h.app.services.web
    key = await web.create_key("app", site.ctx.now())
    assert (await site.client.get(f"{API}/services.json", params={"api_key": key})).status == 200
    assert await web.revoke_key("app", site.ctx.now())
    refused = await site.client.get(f"{API}/services.json", params={"api_key": key})
    assert refused.status == 403
    audit = await web.audit_rows()
    assert [a["status"] for a in audit[:2]] == [403, 200]
    assert audit[0]["path"] == f"{API}/services.json" and all(key not in a["path"] for a in audit)


async def test_each_key_is_rate_limited(site: Site) -> None:
    web = site.h.app.services.web
    key = await web.create_key("tight", site.ctx.now(), rate_per_minute=3)
    codes = [(await site.client.get(f"{API}/services.json", params={"api_key": key})).status for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    other = await web.create_key("other", site.ctx.now())
    assert (await site.client.get(f"{API}/services.json", params={"api_key": other})).status == 200


async def test_dates_filter_the_list(site: Site) -> None:
    await staffed(site)
    future = datetime(2099, 1, 1, tzinfo=UTC).isoformat()
    assert await (await site.client.get(f"{API}/requests.json", params={"start_date": future})).json() == []
    assert (await site.client.get(f"{API}/requests.json", params={"start_date": "yesterday"})).status == 400
