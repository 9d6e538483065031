"""The supervisors' Excel report: per-department figures and every appeal of the period."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from io import BytesIO
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from appeals.lifecycle import OPEN, Status
from appeals.metrics import Figures, Overview, days_text, ordered, percent
from appeals.model import Appeal
from appeals.service import POOR, RATINGS
from appeals.sla import Light
from config import Settings
from texts import Translator, translator

if TYPE_CHECKING:  # openpyxl is imported when a workbook is built: `wanqi run` need not hold it (9 MB)
    from openpyxl import Workbook
    from openpyxl.worksheet.worksheet import Worksheet



def _overdue(appeal: Appeal, now: datetime) -> bool:
    if appeal.status in (Status.DISPATCHED, Status.REOPENED):
        return appeal.accept_due is not None and appeal.accept_due < now
    if appeal.status is Status.ACCEPTED:
        return appeal.reply_due is not None and appeal.reply_due < now
    return False


FIGURE_COLUMNS = ("filed", "accept_rate", "close_rate", "satisfaction", "poor", "reopen_rate", "return_rate",
                  "avg_days", "p90_days", "answered", "reply_rate", "closed")
PERCENT, DAYS, WHEN, DAY = "0.0%", "0.0", "yyyy-mm-dd hh:mm", "yyyy-mm-dd"  # Excel number formats
_FORMATS = {"accept_rate": PERCENT, "close_rate": PERCENT, "reply_rate": PERCENT,
            "satisfaction": PERCENT, "reopen_rate": PERCENT,
            "return_rate": PERCENT, "avg_days": DAYS}


def figure_cells(fig: Figures) -> list[object]:
    """One row of figures, as the console shows them: rates as numbers (formatted as percentages), not text."""
    def rate(v: float | None) -> object:
        return round(v, 4) if v is not None else None

    return [fig.filed, rate(fig.accept_rate), rate(fig.close_rate), rate(fig.satisfaction), fig.poor,
            rate(fig.reopen_rate), rate(fig.return_rate), round(fig.avg_days, 1) if fig.avg_days is not None else None,
            fig.p90_days, fig.answered, rate(fig.reply_rate), fig.closed]


def _formats(sheet: Worksheet, first_column: int, columns: tuple[str, ...], formats: dict[str, str]) -> None:
    """Number formats by column name: the values stay numbers and dates (sortable, summable in Excel)."""
    for offset, name in enumerate(columns):
        if name in formats:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=first_column + offset, max_col=first_column + offset):
                cell.number_format = formats[name]


def figures_line(t: Translator, ov: Overview) -> str:
    """The headline figures in one line (the `/report` caption and `wanqi report`)."""
    f = ov.total
    return t("staff.report_figures", filed=f.filed, accept=percent(f.accept_rate), reply=percent(f.reply_rate),
             close=percent(f.close_rate), answered=f.answered, closed=f.closed,
             satisfaction=percent(f.satisfaction), poor=f.poor, reopen=percent(f.reopen_rate),
             returned=percent(f.return_rate), avg=days_text(f.avg_days),
             p90=f.p90_days if f.p90_days is not None else "—", red=ov.lights.get(Light.RED, 0),
             yellow=ov.lights.get(Light.YELLOW, 0))


def add_figure_sheets(wb: Workbook, ov: Overview, settings: Settings, t: Translator) -> None:
    """三率统计 by department and by category, and the weekly trend with a chart (appeals.metrics)."""
    from openpyxl.chart import BarChart, Reference

    depts = {**settings.departments, None: t("report.center_queue")}
    cats = {c.id: c.name for c in settings.routing.categories}
    header = [t(f"report.figure.{name}") for name in FIGURE_COLUMNS]
    for sheet_key, label, groups, names, order in (
        ("by_department", "report.department", ov.by_department, depts, list(settings.departments)),
        ("by_category", "report.category", ov.by_category, cats, list(cats)),
    ):
        sheet = wb.create_sheet(t(f"report.sheet.{sheet_key}"))
        sheet.append([t(label), *header])
        for key, fig in ordered(groups, order):
            sheet.append([names.get(key, key or t("report.uncategorised")), *figure_cells(fig)])
        sheet.append([t("report.total"), *figure_cells(ov.total)])
        _formats(sheet, 2, FIGURE_COLUMNS, _FORMATS)
    trend = wb.create_sheet(t("report.sheet.trend"))
    trend.append([t("report.trend.week"), t("report.trend.filed"), t("report.trend.answered"),
                  t("report.trend.closed"), t("report.figure.satisfaction"), t("report.trend.days")])
    for point in ov.weekly:
        trend.append([point.week, point.filed, point.answered, point.closed,
                      round(point.satisfaction, 4) if point.satisfaction is not None else None, point.days])
    _formats(trend, 1, ("week", "filed", "answered", "closed", "satisfaction"), {"week": DAY, "satisfaction": PERCENT})
    chart = BarChart()
    chart.title = t("report.trend.chart")
    chart.y_axis.title = t("report.trend.unit")
    data = Reference(trend, min_col=2, max_col=4, min_row=1, max_row=len(ov.weekly) + 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(trend, min_col=1, min_row=2, max_row=len(ov.weekly) + 1))
    chart.width, chart.height = 24, 10
    trend.add_chart(chart, "H2")
    lights = wb.create_sheet(t("report.sheet.lights"))
    lights.append([t("report.lights.light"), t("report.lights.open")])
    for level in (Light.RED, Light.YELLOW, Light.GREEN):
        lights.append([t(f"report.lights.{level.value}"), ov.lights.get(level, 0)])


def add_supervision_sheet(wb: Workbook, ov: Overview, settings: Settings, t: Translator) -> None:
    """督办: per department, how often and on how many of the period's appeals supervisors pressed it."""
    sheet = wb.create_sheet(t("report.sheet.supervision"))
    sheet.append([t("report.department"), *(t(f"report.supervision.{c}") for c in ("times", "appeals", "filed",
                                                                                   "share"))])
    depts = {**settings.departments, None: t("report.center_queue")}
    for key, fig in ordered(ov.by_department, list(settings.departments)):
        times, appeals = ov.supervised.get(key, (0, 0))
        sheet.append([depts.get(key, key or ""), times, appeals, fig.filed,
                      round(appeals / fig.filed, 4) if fig.filed else None])
    sheet.append([t("report.total"), *ov.supervised_total, ov.total.filed, None])
    _formats(sheet, 2, ("times", "appeals", "filed", "share"), {"share": PERCENT})


def finish_sheets(wb: Workbook) -> bytes:
    """Every sheet styled as the report's (header, widths, frozen first row, text kept text), saved to bytes."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    header, fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F4E79")
    for sheet in wb.worksheets:
        _as_text(sheet)
        for cell in sheet[1]:
            cell.font, cell.fill = header, fill
            cell.alignment = Alignment(horizontal="center")
        for i, column in enumerate(sheet.columns, start=1):
            width = max(16 if isinstance(c.value, datetime) else len(str(c.value or "")) for c in list(column)[:200])
            sheet.column_dimensions[get_column_letter(i)].width = min(60, max(10, width * 2))
        sheet.freeze_panes = "A2"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def build_table(title: str, header: list[str], rows: list[list[object]], note: tuple[str, str] | None = None,
                formats: dict[int, str] | None = None) -> bytes:
    """One list of the console as a workbook: a sheet named ``title`` (and a second, ``note`` = (its name, its
    text): the filters and when it was made), styled as the report; ``formats`` gives Excel number formats by
    column index (from 0). Written row by row (openpyxl's write-only mode): a city's year of appeals (10^5 rows)
    stays in tens of MB."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    sheet = wb.create_sheet(title[:31])
    for i, name in enumerate(header, start=1):
        width = max([len(str(name))] + [16 if isinstance(r[i - 1], datetime) else len(str(r[i - 1] or ""))
                                        for r in rows[:200] if len(r) >= i])
        sheet.column_dimensions[get_column_letter(i)].width = min(60, max(10, width * 2))
    sheet.freeze_panes = "A2"

    def cell(value: object, column: int = -1, *, head: bool = False) -> WriteOnlyCell:
        c = WriteOnlyCell(sheet, value=value)
        if head:
            c.font, c.fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F4E79")
            c.alignment = Alignment(horizontal="center")
        elif isinstance(value, str) and value.startswith(FORMULA_START):  # shown, never evaluated
            c.data_type = "s"
            c.quotePrefix = True
        elif formats and column in formats and value is not None:
            c.number_format = formats[column]
        return c

    sheet.append([cell(name, head=True) for name in header])
    for row in rows:
        sheet.append([cell(v, i) for i, v in enumerate(row)])
    if note:
        about = wb.create_sheet(note[0][:31])
        for line in note[1].splitlines():
            about.append([cell(line)])
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def build_overview(ov: Overview, settings: Settings, t: Translator, note: str) -> bytes:
    """总览 as a workbook: the report's figure sheets (部门指标, 分类指标, 周趋势 with a chart, 红黄灯) and 督办."""
    from openpyxl import Workbook

    t = translator(t.locale, html=False)
    wb = Workbook()
    about = wb.active
    about.title = t("report.sheet.about")
    for line in note.splitlines():
        about.append([line])
    add_figure_sheets(wb, ov, settings, t)
    add_supervision_sheet(wb, ov, settings, t)
    return finish_sheets(wb)


# A cell text starting with one of these is read as a formula by Excel and LibreOffice (CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _as_text(sheet: Worksheet) -> None:
    """Every text cell stays text: an enterprise named ``=HYPERLINK(…)`` is shown, never evaluated."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                cell.data_type = "s"
                cell.quotePrefix = True


def build_report(appeals: list[Appeal], enterprises: dict[int, str], settings: Settings, t: Translator,
                 now: datetime, overview: Overview | None = None) -> bytes:
    """An .xlsx workbook: 部门汇总 (one row per department) and 诉求明细 (one row per appeal),
    plus, given the period's figures, 部门指标 / 分类指标 / 周趋势 (with a chart) / 红黄灯 / 督办."""
    from openpyxl import Workbook

    tz = ZoneInfo(settings.center.timezone)
    t = translator(t.locale, html=False)  # cells are plain text

    def when(value: datetime | None) -> datetime | None:
        """A time as an Excel date-time in the center's zone (Excel keeps no zone: the wall clock there)."""
        return value.astimezone(tz).replace(tzinfo=None) if value else None

    wb = Workbook()
    summary = wb.active
    summary.title = t("report.sheet.summary")
    columns = ("department", "filed", "open", "overdue", "closed", "poor", "average", "satisfaction")
    summary.append([t(f"report.summary.{c}") for c in columns])
    depts = {**settings.departments, None: t("report.center_queue")}
    for dept_id, name in depts.items():
        mine = [a for a in appeals if a.department_id == dept_id]
        if not mine and dept_id is None:
            continue
        rated = [a.rating for a in mine if a.rating]
        good = sum(1 for r in rated if r not in POOR)
        summary.append([
            name, len(mine), sum(a.status in OPEN for a in mine), sum(_overdue(a, now) for a in mine),
            sum(a.status is Status.CLOSED for a in mine), sum(1 for r in rated if r in POOR),
            round(sum(rated) / len(rated), 2) if rated else None, round(good / len(rated), 4) if rated else None,
        ])
    _formats(summary, 1, columns, {"average": "0.00", "satisfaction": PERCENT})
    detail = wb.create_sheet(t("report.sheet.detail"))
    fields = ("number", "enterprise", "category", "department", "status", "created", "accept_due", "reply_due",
              "overdue", "rating", "reopened", "text")
    detail.append([t(f"report.detail.{f}") for f in fields])
    routing = settings.routing
    for a in appeals:
        detail.append([
            a.number, enterprises.get(a.enterprise_id, ""),
            routing.category(a.category).name if a.category and routing.knows(a.category) else "",
            depts.get(a.department_id, ""), t(f"status.{a.status.value}"), when(a.created_at), when(a.accept_due),
            when(a.reply_due), t("report.yes") if _overdue(a, now) else "",
            t(f"rating.{a.rating}") if a.rating in RATINGS else "", a.reopen_count, a.text[:60],
        ])
    _formats(detail, 1, fields, {"created": WHEN, "accept_due": WHEN, "reply_due": WHEN})
    if overview is not None:
        add_figure_sheets(wb, overview, settings, t)
        add_supervision_sheet(wb, overview, settings, t)
    counts = Counter(a.status for a in appeals)
    summary.append([])
    local_now = now.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    summary.append([t("report.footer", at=local_now, count=len(appeals),
                      counts=t("report.comma").join(f"{t(f'status.{s.value}')} {n}" for s, n in counts.items()))])
    return finish_sheets(wb)
