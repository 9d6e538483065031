"""The center's console: server-rendered Chinese pages over the same services as the bot.

总览 (figures, trend, lights), 超期与督办, 诉求 (list and appeal page), 热点, 政策推送. What a page shows is
what the services let this person see: a handler their department, supervisors and dispatchers everything.
"""

from __future__ import annotations

import asyncio
import functools
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
from appeals.metrics import days_text, department_scope, ordered, percent
from appeals.model import Actor, Role
from appeals.sla import Light
from bootstrap import keyword_dictionary
from storage.web_repo import NONE
from web.auth import see_other
from web.charts import trend_svg
from web.context import ACTOR, CONTEXT, CSRF, WebContext
from web.filters import ListFilter, notice_of

log = logging.getLogger(__name__)
ROOT = Path(__file__).parent
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "templates"), autoescape=True,
                          undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
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
        department_name=ctx.settings.departments.get(actor.department_id or "", "") if actor else "",
        notice=notice_of(request.query) if request is not None and actor else None, **values)
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


async def overview(request: web.Request) -> web.StreamResponse:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    start, end, preset = _period(ctx, request.query)
    ov = await ctx.services.figures.overview(actor, start, end, fresh=request.query.get("fresh") == "1")
    t = ctx.t(actor)
    views = Views(ctx)
    if request.query.get("format") == "xlsx":
        from reports.workbook import build_overview
        from web.lists import xlsx

        p = ctx.plain().plain
        note = (p("report.export.overview_note", center=ctx.settings.center.name, start=start, end=end,
                  at=views.when(ov.counted_at)) + "\n" + p("console.overview.definitions"))
        return await xlsx(f"{p('console.nav.overview')}_{start}_{end}.xlsx", build_overview, ov, ctx.settings,
                          ctx.plain(), note)
    depts = ordered(ov.by_department, list(ctx.settings.departments))
    cats = ordered(ov.by_category, list(views.categories))
    chart = trend_svg(ov.weekly, labels={k: str(t(f"console.chart.{k}")) for k in
                                         ("filed", "answered", "closed", "partial", "count")},
                      title=str(t("console.overview.trend")))
    period = ListFilter(start=start.isoformat(), end=end.isoformat())
    return render(ctx, "overview.html", {
        "ov": ov, "depts": depts, "cats": cats, "v": views, "chart": Markup(chart), "preset": preset,
        "start": start, "end": end, "Light": Light, "counted": views.when(ov.counted_at),
        "fresh_url": f"/console?period={preset}&start={start}&end={end}&fresh=1",
        "export_url": f"/console?period={preset}&start={start}&end={end}&format=xlsx",
        "periods": ("7d", "30d", "month", "quarter", "year", "365d"), "period": period,
        "supervision": ov.supervised, "supervised": ov.supervised_total, "NONE": NONE,
    }, request=request)


# ---- 超期与督办 (the worklist and 督办 live in web.lists) ----------------------------------------------------
async def extension(request: web.Request) -> web.StreamResponse:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    form = await request.post()
    appeal_id = int(request.match_info["appeal_id"])
    await ctx.services.appeals.decide_extension(actor, appeal_id, form.get("decision") == "approve")
    from web.lists import local

    return see_other(local(str(form.get("back", ""))) or "/console/overdue")


# ---- 诉求 (the list lives in web.lists) -----------------------------------------------------------------------
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
    from web.lists import clock_text

    urged = await ctx.services.web.supervision_history(a.id)
    interval = ctx.settings.sla.supervise_interval_hours
    recent = bool(urged) and now - datetime.fromisoformat(urged[-1]["at"]) < timedelta(hours=interval)
    return render(ctx, "appeal.html", {
        "urged": urged, "interval": interval, "urged_recently": recent,
        "view": view, "a": a, "e": view.enterprise, "v": Views(ctx), "light": view.light.value if view.light else "",
        "clock": clock_text(due, now, t) if view.light else "", "can_dispatch": can_dispatch,
        "categories": [c for c in routing.categories if c.department_id],
        "can_supervise": actor.role is Role.SUPERVISOR and a.status.value not in ("closed", "withdrawn")
        and a.department_id is not None and a.status not in TRIAGE,
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
CLOSENESS = {"loose": 0.2, "normal": 0.3, "strict": 0.45}  # how alike two texts must be to join a group


async def _window_texts(ctx: WebContext, low: datetime, scope: str | None, version: tuple[int, int]
                        ) -> list[HotspotItem]:
    """The texts of the window, read once and then only the appeals filed since (texts do not change)."""
    kept = ctx.hotspot_texts.get((low, scope))
    items = list(kept) if kept is not None else []
    top = items[-1].appeal_id if items else 0
    if len(items) != version[0] or top != version[1]:
        rows = await ctx.services.web.texts_between(low, ctx.now() + timedelta(seconds=1), scope, after=top)
        items += [HotspotItem(r["id"], r["number"], r["text"], r["enterprise_id"], r["department_id"],
                              r["district"] or "") for r in rows]
        if len(items) != version[0]:  # an appeal left the window's scope: read it whole again
            rows = await ctx.services.web.texts_between(low, ctx.now() + timedelta(seconds=1), scope)
            items = [HotspotItem(r["id"], r["number"], r["text"], r["enterprise_id"], r["department_id"],
                                 r["district"] or "") for r in rows]
    if len(ctx.hotspot_texts) >= 8:
        ctx.hotspot_texts.pop(next(iter(ctx.hotspot_texts)))
    ctx.hotspot_texts[(low, scope)] = tuple(items)
    return items


async def hotspots(request: web.Request) -> web.StreamResponse:
    """Problems several enterprises raise at once. The grouping depends only on the texts filed in the window, so
    it is kept until an appeal is filed (count and highest id of the window change); statuses are read fresh."""
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    q = request.query
    days = int(q["days"]) if q.get("days", "").isdigit() and 1 <= int(q["days"]) <= 365 else 30
    closeness = q.get("closeness", "normal") if q.get("closeness") in CLOSENESS else "normal"
    scope = department_scope(actor)
    today = ctx.now().astimezone(ctx.tz).date()
    low = datetime.combine(today - timedelta(days=days - 1), time.min, tzinfo=ctx.tz).astimezone(UTC)
    version = await ctx.services.web.filed_version(low, scope)
    key = (low, scope, closeness, version)
    kept = ctx.hotspots.get(key)
    if kept is None:
        items = await _window_texts(ctx, low, scope, version)
        words = await asyncio.get_running_loop().run_in_executor(None, keyword_dictionary)
        groups = await asyncio.get_running_loop().run_in_executor(None, functools.partial(
            find_hotspots, items, threshold=CLOSENESS[closeness], min_enterprises=3, words=words))
        kept = (groups[:30], len(items))
        if len(ctx.hotspots) >= 16:
            ctx.hotspots.pop(next(iter(ctx.hotspots)))
        ctx.hotspots[key] = kept
    groups, count = kept
    views = Views(ctx)
    if q.get("format") == "xlsx":
        now = await ctx.services.web.briefs([i.appeal_id for g in groups for i in g.items])
        from reports.workbook import build_table
        from web.lists import xlsx

        p = ctx.plain().plain
        rows_out = [[n, " · ".join(g.terms), g.size, g.enterprises, i.number, views.department(i.department_id),
                     i.district, p(f"status.{now[i.appeal_id]['status']}") if i.appeal_id in now else "",
                     i.text[:200]] for n, g in enumerate(groups, start=1) for i in g.items]
        header = [p(f"report.export.{k}") for k in ("group", "keywords", "size", "enterprises")] + [
            p("report.detail.number"), p("report.detail.department"), p("report.export.district"),
            p("report.detail.status"), p("report.export.text")]
        title = p("report.export.hotspots")
        note = p("report.export.hotspot_note", days=days, how=p(f"console.hotspots.close.{closeness}"))
        return await xlsx(f"{title}_{today}.xlsx", build_table, title, header, rows_out,
                          note=(p("report.sheet.about"), note))
    open_ids = await ctx.services.web.open_among([i.appeal_id for g in groups for i in g.items])
    return render(ctx, "hotspots.html", {
        "groups": [(g, [i for i in g.items if i.appeal_id in open_ids]) for g in groups], "days": days,
        "closeness": closeness, "closenesses": tuple(CLOSENESS), "count": count, "v": views,
        "can_supervise": actor.role is Role.SUPERVISOR,
        "back": f"/console/hotspots?days={days}&closeness={closeness}",
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
    from web import auth, lists

    return [
        web.get("/", _home),
        web.get("/console/login", auth.login_form),
        web.post("/console/login", auth.login),
        web.post("/console/logout", auth.logout),
        web.get("/console", overview),
        web.get("/console/overdue", lists.overdue),
        web.post("/console/appeals/{appeal_id:\\d+}/supervise", lists.supervise),
        web.post("/console/supervise", lists.supervise),
        web.post("/console/appeals/{appeal_id:\\d+}/extension", extension),
        web.get("/console/appeals", lists.appeals_list),
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
