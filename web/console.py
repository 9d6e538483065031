"""The center's console: server-rendered Chinese pages over the same services as the bot.

总览 (figures, trend, lights), 超期与督办, 诉求 (list and appeal page), 热点, 政策推送. What a page shows is
what the services let this person see: a handler their department, supervisors and dispatchers everything.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from appeals.errors import AppealError, NotFound
from appeals.hotspots import HotspotItem, find_hotspots
from appeals.lifecycle import TRIAGE, Status
from appeals.metrics import RunningClock, days_text, department_scope, ordered, percent, row_light
from appeals.model import Actor, Role
from appeals.sla import Light
from web.auth import see_other
from web.charts import trend_svg
from web.context import ACTOR, CONTEXT, CSRF, WebContext

log = logging.getLogger(__name__)
ROOT = Path(__file__).parent
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
PER_PAGE = 50
OVERDUE_SHOWN = 200  # the most urgent first; the rest are one filter away in 诉求
NAV = (("overview", "/console"), ("overdue", "/console/overdue"), ("appeals", "/console/appeals"),
       ("hotspots", "/console/hotspots"), ("policies", "/console/policies"))


def render(ctx: WebContext, template: str, values: dict[str, Any], *, status: int = 200,
           request: web.Request | None = None) -> web.Response:
    actor: Actor | None = request.get(ACTOR) if request is not None else None
    t = ctx.t(actor)
    page = _ENV.get_template(template).render(
        t=t, actor=actor, csrf=request.get(CSRF, "") if request is not None else "", nav=NAV,
        path=request.path if request is not None else "", center=ctx.settings.center.name,
        role_name=t(f"role.{actor.role.value}") if actor and actor.role else "",
        department_name=ctx.settings.departments.get(actor.department_id or "", "") if actor else "", **values)
    response = web.Response(text=page, status=status, content_type="text/html", charset="utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


class Views:
    """Formatting helpers the templates use (department and category names, local times, lights)."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        self.categories = {c.id: c.name for c in ctx.settings.routing.categories}

    def department(self, dept: str | None) -> str:
        return self.ctx.settings.departments.get(dept or "", "") or self.ctx.t()("appeal.center")

    def category(self, cat: str | None) -> str:
        return self.categories.get(cat or "", "") or self.ctx.t()("appeal.unclassified")

    def when(self, value: datetime | str | None) -> str:
        if not value:
            return "—"
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(self.ctx.tz).strftime("%Y-%m-%d %H:%M")

    def status(self, value: str) -> str:
        return self.ctx.t()(f"status.{value}")

    @staticmethod
    def percent(value: float | None) -> str:
        return percent(value)

    @staticmethod
    def days(value: float | None) -> str:
        return days_text(value)


def _light_of(row: dict[str, Any], now: datetime, ratio: float) -> tuple[Light | None, datetime | None]:
    def dt(v: str | None) -> datetime | None:
        return datetime.fromisoformat(v) if v else None

    clock = RunningClock(Status(row["status"]), dt(row["dispatched_at"]), dt(row["accept_due"]), dt(row["reply_due"]))
    due = clock.reply_due if clock.status is Status.ACCEPTED else clock.accept_due
    return row_light(clock, now, ratio), due


def _clock(due: datetime | None, now: datetime, t: Any) -> Markup | str:
    """How much time is left (or how late it is), as people say it."""
    if due is None:
        return "—"
    seconds = (due - now).total_seconds()
    hours = int(abs(seconds) // 3600)
    days, rest = divmod(hours, 24)
    span = t("console.clock.days_hours", days=days, hours=rest) if days else t("console.clock.hours", hours=rest)
    left: Markup = t("console.clock.left", span=span) if seconds >= 0 else t("console.clock.late", span=span)
    return left


# ---- 总览 ------------------------------------------------------------------------------------------------
def _period(ctx: WebContext, query: Any) -> tuple[date, date, str]:
    today = ctx.now().astimezone(ctx.tz).date()
    preset = query.get("period", "30d")
    starts = {"7d": today - timedelta(days=6), "30d": today - timedelta(days=29),
              "month": today.replace(day=1), "quarter": today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1),
              "year": today.replace(month=1, day=1), "365d": today - timedelta(days=364)}
    if preset == "custom":
        try:
            start, end = date.fromisoformat(query.get("start", "")), date.fromisoformat(query.get("end", ""))
            if start <= end and (end - start).days <= 3660:
                return start, end, preset
        except ValueError:
            pass
        preset = "30d"
    return starts.get(preset, starts["30d"]), today, preset if preset in starts else "30d"


async def overview(request: web.Request) -> web.Response:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    start, end, preset = _period(ctx, request.query)
    ov = await ctx.services.figures.overview(actor, start, end, fresh=request.query.get("fresh") == "1")
    t = ctx.t(actor)
    views = Views(ctx)
    depts = ordered(ov.by_department, list(ctx.settings.departments))
    cats = ordered(ov.by_category, list(views.categories))
    chart = trend_svg(ov.weekly, filed_label=t("console.overview.filed"), finished_label=t("console.overview.finished"),
                      title=t("console.overview.trend"))
    return render(ctx, "overview.html", {
        "ov": ov, "depts": depts, "cats": cats, "v": views, "chart": Markup(chart), "preset": preset,
        "start": start, "end": end, "Light": Light, "counted": views.when(ov.counted_at),
        "fresh_url": f"/console?period={preset}&start={start}&end={end}&fresh=1",
        "periods": ("7d", "30d", "month", "quarter", "year", "365d"),
    }, request=request)


# ---- 超期与督办 -----------------------------------------------------------------------------------------------
async def overdue(request: web.Request) -> web.Response:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    scope = department_scope(actor)
    rows = await ctx.services.web.running(scope)
    now = ctx.now()
    t = ctx.t(actor)
    items, extensions = [], []
    for row in rows:
        level, due = _light_of(row, now, ctx.settings.sla.yellow_ratio)
        if row["extension_status"] == "requested":
            extensions.append(row)
        if level in (Light.RED, Light.YELLOW):
            items.append({**row, "light": level.value, "due": due})
    # most urgent first: red, then by deadline (as timestamps: sorting thousands of aware datetimes is slow)
    items.sort(key=lambda r: (r["light"] != "red", (r["due"] or now).timestamp()))
    shown = items[:OVERDUE_SHOWN]
    details = await ctx.services.web.running_details(sorted({r["id"] for r in (*shown, *extensions)}))
    shown = [{**r, **details[r["id"]], "clock": _clock(r["due"], now, t)} for r in shown if r["id"] in details]
    extensions = sorted(({**r, **details[r["id"]]} for r in extensions if r["id"] in details), key=lambda r: r["id"])
    return render(ctx, "overdue.html", {"items": shown, "count": len(items),
                                        "extensions": extensions, "v": Views(ctx),
                                        "can_supervise": actor.role is Role.SUPERVISOR}, request=request)


async def supervise(request: web.Request) -> web.StreamResponse:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    form = await request.post()
    # a 热点 group's form carries its ids in one field (thousands of hidden inputs made the page 0.5 MB)
    given = [*map(str, form.getall("appeal", [])), *str(form.get("appeals", "")).split(",")]
    ids = [int(x) for x in given if x.isdigit()]
    if "appeal_id" in request.match_info:
        ids = [int(request.match_info["appeal_id"])]
    await ctx.services.appeals.supervise(actor, ids, str(form.get("note", "")))
    return see_other(str(form.get("back", "")) or "/console/overdue")


async def extension(request: web.Request) -> web.StreamResponse:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    form = await request.post()
    appeal_id = int(request.match_info["appeal_id"])
    await ctx.services.appeals.decide_extension(actor, appeal_id, form.get("decision") == "approve")
    return see_other(str(form.get("back", "")) or "/console/overdue")


# ---- 诉求 -----------------------------------------------------------------------------------------------------
async def appeals_list(request: web.Request) -> web.Response:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    q = request.query
    scope = department_scope(actor)
    page = int(q.get("page", "1")) if q.get("page", "1").isdigit() else 1
    filters = {"status": q.get("status", ""), "category": q.get("category", ""), "channel": q.get("channel", ""),
               "department": scope or q.get("department", ""), "q": q.get("q", "").strip()[:50]}
    rows, total = await ctx.services.web.search_appeals(
        department_id=filters["department"] or None, status=filters["status"] or None,
        category=filters["category"] or None, channel=filters["channel"] or None, query=filters["q"], page=page,
        per_page=PER_PAGE)
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    keep = "&".join(f"{k}={v}" for k, v in filters.items() if v and not (k == "department" and scope))
    return render(ctx, "appeals.html", {
        "rows": rows, "total": total, "page": page, "pages": pages, "filters": filters, "keep": keep,
        "v": Views(ctx), "statuses": [s.value for s in Status], "scoped": scope is not None,
        "departments": ctx.settings.departments, "channels": ("telegram", "open311", "console"),
    }, request=request)


async def appeal_page(request: web.Request) -> web.Response:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    ref = request.match_info["appeal_id"]
    view = await ctx.services.appeals.view(actor, int(ref) if ref.isdigit() else ref)
    a = view.appeal
    t = ctx.t(actor)
    now = ctx.now()
    routing = ctx.settings.routing
    can_dispatch = actor.role is Role.SUPERVISOR or (actor.role is Role.DISPATCHER and a.status in TRIAGE)
    can_dispatch = can_dispatch and a.status in (*TRIAGE, Status.DISPATCHED)
    due = a.reply_due if a.status is Status.ACCEPTED else a.accept_due
    return render(ctx, "appeal.html", {
        "view": view, "a": a, "e": view.enterprise, "v": Views(ctx), "light": view.light.value if view.light else "",
        "clock": _clock(due, now, t) if view.light else "", "can_dispatch": can_dispatch,
        "categories": [c for c in routing.categories if c.department_id],
        "can_supervise": actor.role is Role.SUPERVISOR and a.status.value not in ("closed", "withdrawn")
        and a.department_id is not None,
        "can_decide": actor.role is Role.SUPERVISOR and a.extension_status == "requested",
        "can_verify": actor.role in (Role.SUPERVISOR, Role.DISPATCHER) and not view.enterprise.verified,
        "phone": view.enterprise.phone if actor.role is not Role.HANDLER or a.department_id == actor.department_id
        else "",
    }, request=request)


async def dispatch(request: web.Request) -> web.StreamResponse:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    form = await request.post()
    appeal_id = int(request.match_info["appeal_id"])
    await ctx.services.appeals.dispatch(actor, appeal_id, str(form.get("category", "")))
    return see_other(f"/console/appeals/{appeal_id}")


async def verify(request: web.Request) -> web.StreamResponse:
    """确认企业: an enterprise known only by the credit code a partner or dispatcher gave becomes verified."""
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    appeal_id = int(request.match_info["appeal_id"])
    view = await ctx.services.appeals.view(actor, appeal_id)
    await ctx.services.registration.verify_enterprise(actor, view.enterprise.id)
    return see_other(f"/console/appeals/{appeal_id}")


async def note(request: web.Request) -> web.StreamResponse:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    form = await request.post()
    appeal_id = int(request.match_info["appeal_id"])
    await ctx.services.appeals.message(actor, appeal_id, str(form.get("text", "")), internal=True)
    return see_other(f"/console/appeals/{appeal_id}")


# ---- 热点 -----------------------------------------------------------------------------------------------------
async def hotspots(request: web.Request) -> web.Response:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    q = request.query
    days = int(q["days"]) if q.get("days", "").isdigit() and 1 <= int(q["days"]) <= 365 else 30
    try:
        threshold = min(0.95, max(0.1, float(q.get("threshold", "0.3"))))
    except ValueError:
        threshold = 0.3
    today = ctx.now().astimezone(ctx.tz).date()
    low = datetime.combine(today - timedelta(days=days - 1), time.min, tzinfo=ctx.tz).astimezone(UTC)
    rows = await ctx.services.web.texts_between(low, ctx.now() + timedelta(seconds=1), department_scope(actor))
    items = [HotspotItem(r["id"], r["number"], r["text"], r["enterprise_id"], r["department_id"], r["district"] or "")
             for r in rows]
    groups = find_hotspots(items, threshold=threshold, min_enterprises=3)
    return render(ctx, "hotspots.html", {
        "groups": groups[:30], "days": days, "threshold": threshold, "count": len(items), "v": Views(ctx),
        "can_supervise": actor.role is Role.SUPERVISOR,
    }, request=request)


# ---- 政策推送 ---------------------------------------------------------------------------------------------------
async def policies(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    counts = await ctx.services.web.digest_counts(6)
    weeks: dict[str, dict[str, int]] = {}
    for r in counts:
        weeks.setdefault(r["week"], {})[r["status"]] = r["n"]
    catalogue = await ctx.services.web.policies()
    today = ctx.now().astimezone(ctx.tz).date().isoformat()
    for p in catalogue:
        p["state"] = ("expired" if (p["valid_until"] and p["valid_until"] < today)
                      or (p["deadline"] and p["deadline"] < today) else "open")
    statuses = sorted({s for w in weeks.values() for s in w})
    return render(ctx, "policies.html", {"weeks": weeks, "statuses": statuses, "catalogue": catalogue},
                  request=request)


# ---- errors ----------------------------------------------------------------------------------------------------
@web.middleware
async def domain_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """A refused step shows the same polite Chinese message the bot would send."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except AppealError as exc:
        if not request.path.startswith("/console"):
            raise
        ctx = request.app[CONTEXT]
        t = ctx.t(request.get(ACTOR))
        try:
            message = t(exc.key, **exc.params)
        except (KeyError, IndexError):
            message = t("error.generic")
        status = 404 if isinstance(exc, NotFound) else 400
        return render(ctx, "message.html", {"message": message}, status=status, request=request)


def routes() -> list[web.AbstractRouteDef]:
    from web import auth

    return [
        web.get("/", _home),
        web.get("/console/login", auth.login_form),
        web.post("/console/login", auth.login),
        web.post("/console/logout", auth.logout),
        web.get("/console", overview),
        web.get("/console/overdue", overdue),
        web.post("/console/appeals/{appeal_id:\\d+}/supervise", supervise),
        web.post("/console/supervise", supervise),
        web.post("/console/appeals/{appeal_id:\\d+}/extension", extension),
        web.get("/console/appeals", appeals_list),
        web.get("/console/appeals/{appeal_id}", appeal_page),
        web.post("/console/appeals/{appeal_id:\\d+}/dispatch", dispatch),
        web.post("/console/appeals/{appeal_id:\\d+}/note", note),
        web.post("/console/appeals/{appeal_id:\\d+}/verify", verify),
        web.get("/console/hotspots", hotspots),
        web.get("/console/policies", policies),
        web.static("/console/static", ROOT / "static"),
    ]


async def _home(request: web.Request) -> web.Response:
    return see_other("/console")
