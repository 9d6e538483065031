"""The supervisor's lists: 超期与督办 (the worklist of red and yellow appeals), 诉求 (every appeal, searchable),
督办 (one appeal or a group, with a confirmation before a repeat) and their Excel downloads.

Filters are query parameters (web.filters), so a filtered view is a link: 总览's tiles and cells open these.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from appeals.lifecycle import CLOCK_RUNNING, Status
from appeals.metrics import RunningClock, department_scope, row_light
from appeals.model import Actor, Role
from appeals.reference import DISTRICTS
from appeals.service import RepeatSupervision
from appeals.sla import Light
from web.auth import see_other
from web.console import Views, render
from web.context import ACTOR, CONTEXT, WebContext
from web.filters import ListFilter, parse

PER_PAGE = 50
EXPORT_LIMIT = 200_000  # rows of one download (a city's year is ~10^5)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


_STATUS = {s.value: s for s in Status}


_CLOCKS: dict[tuple[str, str | None, str | None, str | None], tuple[RunningClock, datetime | None]] = {}


def light_of(row: dict[str, Any], now: datetime, ratio: float) -> tuple[Light | None, datetime | None]:
    """An appeal's light now and the deadline it runs against (appeals.metrics.row_light on a storage row).

    The parsed clocks are kept by their stored text (a few thousand running appeals change little between two
    views): parsing 20,000 times per view of 超期与督办 cost more than the rest of the page."""
    key = (row["status"], row["dispatched_at"], row["accept_due"], row["reply_due"])
    kept = _CLOCKS.get(key)
    if kept is None:
        clock = RunningClock(_STATUS[key[0]], _dt(key[1]), _dt(key[2]), _dt(key[3]))
        kept = clock, clock.reply_due if clock.status is Status.ACCEPTED else clock.accept_due
        if len(_CLOCKS) >= 100_000:
            _CLOCKS.clear()
        _CLOCKS[key] = kept
    return row_light(kept[0], now, ratio), kept[1]


def clock_text(due: datetime | None, now: datetime, t: Any) -> Markup | str:
    """How much time is left (or how late it is), as people say it."""
    if due is None:
        return "—"
    seconds = (due - now).total_seconds()
    hours = int(abs(seconds) // 3600)
    days, rest = divmod(hours, 24)
    span = t("console.clock.days_hours", days=days, hours=rest) if days else t("console.clock.hours", hours=rest)
    left: Markup = t("console.clock.left", span=span) if seconds >= 0 else t("console.clock.late", span=span)
    return left


def filters(request: web.Request, *, running_only: bool = False) -> ListFilter:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    return parse(request.query, departments=ctx.settings.departments,
                 categories={c.id: c.name for c in ctx.settings.routing.categories}, running_only=running_only,
                 scope=department_scope(actor))


def period_bounds(ctx: WebContext, f: ListFilter) -> tuple[datetime | None, datetime | None]:
    """The filing instants of a list's start/end local dates (end inclusive)."""
    start, end = f.start_date(), f.end_date()
    low = datetime.combine(start, time.min, tzinfo=ctx.tz) if start else None
    high = datetime.combine(end + timedelta(days=1), time.min, tzinfo=ctx.tz) if end else None
    return low, high


async def xlsx(name: str, build: Callable[..., bytes], *args: Any, **kwargs: Any) -> web.Response:
    """A download of ``build(*args, **kwargs)``, built off the event loop (a year is seconds of openpyxl): the file
    name in UTF-8 (RFC 5987), never cached."""
    from urllib.parse import quote

    data = await asyncio.get_running_loop().run_in_executor(None, functools.partial(build, *args, **kwargs))
    return web.Response(body=data, content_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"wanqi.xlsx\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store"})


# ---- 超期与督办 -------------------------------------------------------------------------------------------------
@dataclass(slots=True)
class Work:
    row: dict[str, Any]
    light: str
    due: datetime
    urges: tuple[int, str] | None  # (times, last at) or None

    @property
    def urged(self) -> bool:
        return self.urges is not None


def _matcher(f: ListFilter, *, skip: tuple[str, ...] = ()) -> Callable[[Work], bool]:
    """Whether a red or yellow appeal passes the filters (but those in ``skip``; the district was chosen in SQL)."""
    wanted = [(column, getattr(f, name)) for column, name in (("department_id", "department"), ("status", "status"),
                                                              ("category", "category"))
              if getattr(f, name) and name not in skip]
    light = f.light if "light" not in skip else ""
    urged = (f.urged == "yes") if f.urged and "urged" not in skip else None

    def matches(w: Work) -> bool:
        r = w.row
        for name, value in wanted:
            if (r[name] or "none") != value:
                return False
        if light and w.light != light:
            return False
        return urged is None or (w.urges is not None) == urged

    return matches


def _ordered(items: list[Work], sort: str) -> list[Work]:
    if sort == "late":  # the longest late first, then the yellow ones nearest their deadline
        return sorted(items, key=lambda w: (w.light != "red", w.due.timestamp()))
    # still savable first (yellow, nearest deadline first), then the newly red (the latest deadline first)
    return sorted(items, key=lambda w: (w.light != "yellow", w.due.timestamp() * (1 if w.light == "yellow" else -1)))


async def worklist(ctx: WebContext, actor: Actor, f: ListFilter) -> tuple[list[Work], dict[str | None, list[int]],
                                                                           list[dict[str, Any]]]:
    """The red and yellow appeals this person sees, filtered and ordered; the counts per department (red, yellow,
    urged) under every filter but department, light and urged; and the extension requests waiting."""
    scope = department_scope(actor)
    rows = await ctx.services.web.running(scope, f.district or None)
    urges = await ctx.services.web.urges()
    now = ctx.now()
    ratio = ctx.settings.sla.yellow_ratio
    lit: list[Work] = []
    extensions = []
    for row in rows:
        if row["extension_status"] == "requested":
            extensions.append(row)
        level, due = light_of(row, now, ratio)
        if (level is Light.RED or level is Light.YELLOW) and due is not None:
            lit.append(Work(row, level.value, due, urges.get(row["id"])))
    counts: dict[str | None, list[int]] = {}
    counted = _matcher(f, skip=("department", "light", "urged"))
    for w in lit:
        if counted(w):
            c = counts.setdefault(w.row["department_id"], [0, 0, 0])
            c[0 if w.light == "red" else 1] += 1
            c[2] += w.urges is not None
    shown = _matcher(f)
    return _ordered([w for w in lit if shown(w)], f.sort), counts, extensions


async def overdue(request: web.Request) -> web.StreamResponse:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    f = filters(request, running_only=True)
    items, counts, extensions = await worklist(ctx, actor, f)
    t = ctx.t(actor)
    now = ctx.now()
    views = Views(ctx)
    if request.query.get("format") == "xlsx":
        return await _overdue_xlsx(ctx, items, f, views, now, t)
    pages = max(1, (len(items) + PER_PAGE - 1) // PER_PAGE)
    page = min(f.page, pages)
    shown = items[(page - 1) * PER_PAGE: page * PER_PAGE]
    details = await ctx.services.web.running_details(sorted({w.row["id"] for w in shown} |
                                                            {r["id"] for r in extensions}))
    rows = [{**w.row, **details.get(w.row["id"], {}), "light": w.light, "due": w.due,
             "clock": clock_text(w.due, now, t), "urges": w.urges} for w in shown]
    extensions = sorted(({**r, **details[r["id"]]} for r in extensions if r["id"] in details), key=lambda r: r["id"])
    order = [k for k in ctx.settings.departments if k in counts] + [k for k in counts if k not in
                                                                     ctx.settings.departments]
    total = [sum(c[i] for c in counts.values()) for i in range(3)]
    return render(ctx, "overdue.html", {
        "items": rows, "count": len(items), "page": page, "pages": pages, "f": f, "v": views,
        "extensions": extensions, "counts": [(k, counts[k]) for k in order], "total": total,
        "can_supervise": actor.role is Role.SUPERVISOR, "back": f.link("/console/overdue", page=page),
        "departments": ctx.settings.departments, "statuses": sorted(s.value for s in CLOCK_RUNNING),
        "districts": DISTRICTS, "scoped": department_scope(actor) is not None,
    }, request=request)


def _excel_time(ctx: WebContext, value: datetime | str | None) -> datetime | None:
    """A time as an Excel date-time (the wall clock of the center's zone; Excel keeps no zone)."""
    if not value:
        return None
    when = datetime.fromisoformat(value) if isinstance(value, str) else value
    return when.astimezone(ctx.tz).replace(tzinfo=None)


async def _overdue_xlsx(ctx: WebContext, items: list[Work], f: ListFilter, v: Any, now: datetime, t: Any
                        ) -> web.Response:
    from reports.workbook import WHEN, build_table

    items = items[:EXPORT_LIMIT]
    details = await ctx.services.web.running_details([w.row["id"] for w in items])
    p = ctx.plain().plain
    rows = []
    for w in items:
        d = details.get(w.row["id"], {})
        times, last = w.urges or (0, None)
        rows.append([d.get("number", ""), d.get("enterprise", ""), p(f"console.light.{w.light}"),
                     v.department(w.row["department_id"]), v.category(w.row["category"]),
                     p(f"status.{w.row['status']}"), d.get("district") or "", _excel_time(ctx, w.due),
                     str(clock_text(w.due, now, p)), times, _excel_time(ctx, last)])
    header = [p("report.detail.number"), p("report.detail.enterprise"), p("report.export.light"),
              p("report.detail.department"), p("report.detail.category"), p("report.detail.status"),
              p("report.export.district"), p("report.export.due"), p("report.export.clock"), p("report.export.urges"),
              p("report.export.last_urged")]
    title = p("report.export.overdue")
    return await xlsx(f"{title}_{now.astimezone(ctx.tz):%Y%m%d_%H%M}.xlsx", build_table, title, header, rows,
                      note=_note(ctx, f, now, len(rows)), formats={7: WHEN, 10: WHEN})


def _note(ctx: WebContext, f: ListFilter, now: datetime, count: int) -> tuple[str, str]:
    """The download's second sheet: where it comes from, when, how many, with which filters."""
    p = ctx.plain().plain
    shown = {k: v for k, v in ((n, getattr(f, n)) for n in ListFilter.__dataclass_fields__) if v and k != "page"}
    at = f"{now.astimezone(ctx.tz):%Y-%m-%d %H:%M}"
    return p("report.sheet.about"), (p("report.export.note", center=ctx.settings.center.name, at=at, count=count)
                                     + "\n" + p("report.export.filters",
                                                 filters=urlencode(shown) or p("report.export.no_filters")))


# ---- 诉求 ---------------------------------------------------------------------------------------------------------
async def appeals_list(request: web.Request) -> web.StreamResponse:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    f = filters(request)
    now = ctx.now()
    ids = None
    if f.light:  # the light is the clock's, read now: the appeals that have it, from the running ones
        ratio = ctx.settings.sla.yellow_ratio
        ids = [r["id"] for r in await ctx.services.web.running(department_scope(actor), f.district or None)
               if (light_of(r, now, ratio)[0] or "") == f.light]
    low, high = period_bounds(ctx, f)
    export = request.query.get("format") == "xlsx"
    flag = {"yes": True, "no": False, "": None}
    rows, total = await ctx.services.web.search_appeals(
        department_id=f.department or None, status=f.status or None, category=f.category or None,
        channel=f.channel or None, query=f.q, district=f.district or None, ids=ids, urged=flag[f.urged],
        low=low, high=high, late=f.late or None, rating=f.rating or None, reopened=flag[f.reopened],
        returned=flag[f.returned], answered=flag[f.answered], now=now, page=1 if export else f.page,
        per_page=EXPORT_LIMIT if export else PER_PAGE)
    views = Views(ctx)
    urges = await ctx.services.web.urges([r["id"] for r in rows])
    if export:
        from reports.workbook import WHEN, build_table

        p = ctx.plain().plain
        header = [p(f"report.detail.{k}") for k in ("number", "enterprise")] + [p("report.export.district")] + [
            p(f"report.detail.{k}") for k in ("category", "department", "status")] + [p("report.export.channel")] + [
            p(f"report.detail.{k}") for k in ("created", "accept_due", "reply_due")] + [
            p("report.export.answered_at"), p("report.export.closed_at"), p("report.detail.rating"),
            p("report.export.urges"), p("report.detail.text")]
        title = p("report.export.appeals")
        return await xlsx(f"{title}_{now.astimezone(ctx.tz):%Y%m%d_%H%M}.xlsx", build_table, title, header, [[
            r["number"], r["enterprise"], r["district"] or "", views.category(r["category"]),
            views.department(r["department_id"]), p(f"status.{r['status']}"), p(f"console.channel.{r['channel']}"),
            _excel_time(ctx, r["created_at"]), _excel_time(ctx, r["accept_due"]), _excel_time(ctx, r["reply_due"]),
            _excel_time(ctx, r["replied_at"]), _excel_time(ctx, r["closed_at"] if r["status"] == "closed" else None),
            p(f"rating.{r['rating']}") if r["rating"] else "", urges.get(r["id"], (0, ""))[0], r["excerpt"]]
            for r in rows], note=_note(ctx, f, now, len(rows)), formats={i: WHEN for i in (7, 8, 9, 10, 11)})
    pages = max(1, (total + PER_PAGE - 1) // PER_PAGE)
    scoped = department_scope(actor) is not None
    return render(ctx, "appeals.html", {
        "rows": rows, "total": total, "page": f.page, "pages": pages, "f": f, "v": views, "urges": urges,
        "statuses": [s.value for s in Status], "scoped": scoped, "departments": ctx.settings.departments,
        "channels": ("telegram", "open311", "console"), "districts": DISTRICTS,
        "hidden": [(k, getattr(f, k)) for k in ("late", "rating", "reopened", "returned", "answered", "start", "end")
                   if getattr(f, k)],
    }, request=request)


# ---- 督办 ---------------------------------------------------------------------------------------------------------
def local(back: str) -> str:
    """Only a page of the console to go back to (never another site)."""
    return back if back.startswith("/console") and not back.startswith("//") and "\\" not in back else ""


async def supervise(request: web.Request) -> web.StreamResponse:
    ctx, actor = request.app[CONTEXT], request[ACTOR]
    form = await request.post()
    # a 热点 group's form carries its ids in one field (thousands of hidden inputs made the page 0.5 MB)
    given = [*map(str, form.getall("appeal", [])), *str(form.get("appeals", "")).split(",")]
    ids = [int(x) for x in given if x.isascii() and x.isdigit() and len(x) < 16]
    if "appeal_id" in request.match_info:
        ids = [int(request.match_info["appeal_id"])]
    back = local(str(form.get("back", ""))) or "/console/overdue"
    repeat = str(form.get("repeat", "ask"))
    note = str(form.get("note", ""))
    try:
        done = await ctx.services.appeals.supervise(actor, ids, note,
                                                    repeat=repeat if repeat in ("include", "skip") else "ask")
    except RepeatSupervision as again:
        views = Views(ctx)
        return render(ctx, "supervise_confirm.html", {
            "recent": [(a, views.when(at)) for a, at in again.recent], "hours": again.params["hours"],
            "others": len(set(ids)) - len(again.recent) - len(again.skipped), "ids": ",".join(map(str, ids)),
            "note": note, "back": back, "action": request.path,
        }, request=request)
    skipped = ",".join(f"{a.number}.{why}" for a, why in done.skipped)
    joiner = "&" if "?" in back else "?"
    query = urlencode({"supervised": len(done.urged), **({"skipped": skipped} if skipped else {})})
    return see_other(f"{back}{joiner}{query}#notice")
