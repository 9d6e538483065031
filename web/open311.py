"""The partner API: Open311 GeoReport v2 (JSON) under /open311/v2/, over the same services as the bot.

Appeals are confidential: without a key a request shows only its public fields (number, status, service,
agency, dates); a partner's key sees its own requests in full. Every call is audited, each key rate-limited.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from appeals.errors import AppealError
from appeals.lifecycle import TERMINAL, Status
from appeals.model import Actor, Attachment, Role
from storage.web_repo import ApiKey
from web.context import API_KEY, APPEAL_ID, CONTEXT, PARAMS, WebContext

log = logging.getLogger(__name__)
PREFIX = "/open311/v2"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(data, ensure_ascii=False), status=status,
                        content_type="application/json", charset="utf-8")


def error(status: int, description: str) -> web.Response:
    """The standard's error shape: a list of {code, description}."""
    return _json([{"code": status, "description": description}], status)


def _iso(ctx: WebContext, value: str | None) -> str | None:
    return datetime.fromisoformat(value).astimezone(ctx.tz).isoformat(timespec="seconds") if value else None


def _department(ctx: WebContext, dept: str | None) -> str:
    return ctx.settings.departments.get(dept or "", "") or ctx.plain().plain("console.api.agency_center")


def _service_name(ctx: WebContext, category: str | None) -> str:
    routing = ctx.settings.routing
    return routing.category(category).name if category and routing.knows(category) else ""


async def _params(request: web.Request) -> dict[str, str]:
    """Query string, plus a form-encoded (as the standard posts) or JSON body."""
    params = dict(request.query)
    if request.method == "POST":
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise web.HTTPBadRequest() from None
            if isinstance(body, dict):
                attrs = body.pop("attribute", None)
                params.update({k: str(v) for k, v in body.items() if v is not None})
                if isinstance(attrs, dict):
                    params.update({f"attribute[{k}]": str(v) for k, v in attrs.items()})
        else:
            params.update({k: str(v) for k, v in (await request.post()).items() if isinstance(v, str)})
    return params


@web.middleware
async def guard(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                ) -> web.StreamResponse:
    """JSON only, api_key resolution, the per-caller rate limit and the audit row of every call."""
    if not request.path.startswith(PREFIX):
        return await handler(request)
    ctx = request.app[CONTEXT]
    key: ApiKey | None = None
    response: web.StreamResponse
    try:
        params = await _params(request)
    except web.HTTPBadRequest:
        params, response = {}, error(400, ctx.plain().plain("console.api.bad_json"))
    else:
        response = web.Response()
        raw = params.get("api_key") or request.headers.get("X-Api-Key", "")
        if raw:
            key = await ctx.services.web.key_for(raw)
        caller = f"key:{key.id}" if key else f"ip:{request.remote}"
        limit = key.rate_per_minute if key else ctx.settings.web.api_rate_per_minute
        if raw and key is None:
            response = error(403, ctx.plain().plain("console.api.bad_key"))
        elif not ctx.allow(caller, limit):
            response = error(429, ctx.plain().plain("console.api.rate_limited"))
        elif request.path.endswith(".xml"):
            response = error(400, ctx.plain().plain("console.api.json_only"))
        else:
            request[PARAMS], request[API_KEY] = params, key
            try:
                response = await handler(request)
            except web.HTTPNotFound:
                response = error(404, ctx.plain().plain("console.api.not_found"))
            except web.HTTPMethodNotAllowed:
                response = error(405, ctx.plain().plain("console.api.method"))
    query = "&".join(f"{k}={v}" for k, v in request.query.items() if k != "api_key")  # never the secret
    await ctx.services.web.audit(ctx.now(), key.id if key else None, request.method,
                                 request.path + (f"?{query}" if query else ""),
                                 response.status, request.remote or "", request.get(APPEAL_ID))
    return response


async def services_list(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    t = ctx.plain().plain
    return _json([{
        "service_code": c.id, "service_name": c.name,
        "description": t("console.api.service_description", name=c.name, department=_department(ctx, c.department_id)),
        "metadata": True, "type": "realtime", "keywords": "", "group": _department(ctx, c.department_id),
    } for c in ctx.settings.routing.categories])


async def service_definition(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    code = request.match_info["code"]
    if not ctx.settings.routing.knows(code):
        return error(404, ctx.plain().plain("console.api.no_service", code=code))
    t = ctx.plain().plain
    attrs = [("credit_code", True, "console.api.attr_credit_code"), ("contact", False, "console.api.attr_contact"),
             ("phone", False, "console.api.attr_phone")]
    return _json({"service_code": code, "attributes": [
        {"variable": True, "code": name, "datatype": "string", "required": required, "datatype_description": "",
         "order": i, "description": t(label)}
        for i, (name, required, label) in enumerate(attrs, start=1)]})


def _row_json(ctx: WebContext, row: dict[str, Any], owner_id: int | None) -> dict[str, Any]:
    status = Status(row["status"])
    due = row["reply_due"] if status is Status.ACCEPTED else row["accept_due"]
    out: dict[str, Any] = {
        "service_request_id": row["number"],
        "status": "closed" if status in TERMINAL else "open",
        "status_notes": ctx.plain().plain(f"status.{status.value}"),
        "service_name": _service_name(ctx, row["category"]),
        "service_code": row["category"] or "",
        "agency_responsible": _department(ctx, row["department_id"]),
        "service_notice": "",
        "requested_datetime": _iso(ctx, row["created_at"]),
        "updated_datetime": _iso(ctx, row["updated_at"]),
        "expected_datetime": _iso(ctx, due) if status not in TERMINAL and status is not Status.REPLIED else None,
    }
    if owner_id is not None and row["user_id"] == owner_id:
        # the filing partner's own request: everything it sent, and what we know of the enterprise
        out.update({"description": row["text"], "address": row["district"] or "",
                    "attribute": {"credit_code": row["credit_code"], "enterprise": row["enterprise"],
                                  "contact": row["contact"] or "", "phone": row["phone"] or ""}})
    return out


async def _partner(ctx: WebContext, key: ApiKey) -> Actor:
    uid = await ctx.services.repo.identity_user("open311", f"key:{key.id}", key.name, ctx.now())
    return Actor(user_id=uid, role=Role.PARTNER, name=key.name)


async def _owner(ctx: WebContext, key: ApiKey | None) -> int | None:
    return (await _partner(ctx, key)).user_id if key else None


def _date(ctx: WebContext, raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(raw) from None
    return value if value.tzinfo else value.replace(tzinfo=ctx.tz)


async def requests_list(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    p: dict[str, str] = request[PARAMS]
    t = ctx.plain().plain
    try:
        low, high = _date(ctx, p.get("start_date")), _date(ctx, p.get("end_date"))
    except ValueError:
        return error(400, t("console.api.bad_date"))
    statuses: list[str] | None = None
    if p.get("status"):
        wanted = {s.strip() for s in p["status"].split(",")}
        if not wanted <= {"open", "closed"}:
            return error(400, t("console.api.bad_status"))
        statuses = sorted({s.value for s in Status if (s in TERMINAL) == ("closed" in wanted)}
                          if len(wanted) == 1 else {s.value for s in Status})
    numbers = [n.strip().upper() for n in p["service_request_id"].split(",")] if p.get("service_request_id") else None
    if p.get("service_code") and not ctx.settings.routing.knows(p["service_code"]):
        return error(400, t("console.api.no_service", code=p["service_code"]))
    if low is None and high is None and numbers is None:
        low = ctx.now() - timedelta(days=90)  # the standard's default window
    rows = await ctx.services.web.open311_requests(numbers=numbers, category=p.get("service_code"), low=low,
                                                   high=high, statuses=statuses, limit=1000)
    owner = await _owner(ctx, _key(request))
    return _json([_row_json(ctx, r, owner) for r in rows])


async def request_one(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    number = request.match_info["id"].upper()
    rows = await ctx.services.web.open311_requests(numbers=[number], limit=1)
    if not rows:
        return error(404, ctx.plain().plain("console.api.no_request", id=number))
    request[APPEAL_ID] = rows[0]["id"]
    owner = await _owner(ctx, _key(request))
    return _json([_row_json(ctx, rows[0], owner)])


async def request_create(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    p: dict[str, str] = request[PARAMS]
    key = _key(request)
    t = ctx.plain().plain
    if key is None:
        return error(403, t("console.api.key_required"))
    if not p.get("attribute[credit_code]"):
        return error(400, t("console.api.credit_code_required"))
    contact = " ".join(x for x in (p.get("last_name", ""), p.get("first_name", "")) if x).strip()
    media = p.get("media_url", "").strip()
    token = request.headers.get("Idempotency-Key") or p.get("idempotency_key") or uuid.uuid4().hex
    actor = await _partner(ctx, key)
    try:
        sub = await ctx.services.appeals.file_on_behalf(
            actor, credit_code=p.get("attribute[credit_code]"), text=p.get("description"), channel="open311",
            idempotency_key=f"open311:{key.id}:{token[:100]}", enterprise_name=p.get("attribute[enterprise]", ""),
            contact=contact or p.get("attribute[contact]", ""), phone=p.get("phone") or p.get("attribute[phone]", ""),
            category=p.get("service_code") or None,
            attachments=(Attachment("url", media[:1000]),) if media.startswith(("http://", "https://")) else (),
        )
    except AppealError as exc:
        return error(400, _error_text(ctx, exc))
    request[APPEAL_ID] = sub.appeal.id
    appeal = sub.appeal  # its notices (the department's card) are outbox rows of the same transaction
    log.info("open311: appeal %s filed by key %s (%s)", appeal.id, key.id, appeal.status)
    return _json([{
        "service_request_id": appeal.number,
        "service_notice": t("console.api.notice", number=appeal.number, agency=_department(ctx, appeal.department_id)),
        "account_id": None,
    }], 200 if sub.duplicate else 201)


def _key(request: web.Request) -> ApiKey | None:
    key = request.get(API_KEY)
    return key if isinstance(key, ApiKey) else None


def _error_text(ctx: WebContext, exc: AppealError) -> str:
    t = ctx.plain().plain
    try:
        return t(exc.key, **exc.params)
    except (KeyError, IndexError):
        return t("error.generic")


def routes() -> list[web.RouteDef]:
    return [
        web.get(f"{PREFIX}/services.json", services_list),
        web.get(f"{PREFIX}/services/{{code}}.json", service_definition),
        web.get(f"{PREFIX}/requests.json", requests_list),
        web.post(f"{PREFIX}/requests.json", request_create),
        web.get(f"{PREFIX}/requests/{{id}}.json", request_one),
    ]
