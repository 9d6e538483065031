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


FIGURE_HEADER = ["受理量", "按时签收率", "按时办结率", "满意率", "差评数", "重办率", "退回率", "平均答复用时（工作日）",
                 "九成答复用时（工作日）", "答复量", "按时答复率", "办结量"]
PERCENT_COLUMNS = (3, 4, 5, 7, 8, 12)  # of a figure sheet (the label is column 1)


def figure_cells(fig: Figures) -> list[object]:
    """One row of figures, as the console shows them (rates as numbers formatted as percentages)."""
    def rate(v: float | None) -> object:
        return round(v, 4) if v is not None else ""

    return [fig.filed, rate(fig.accept_rate), rate(fig.close_rate), rate(fig.satisfaction), fig.poor,
            rate(fig.reopen_rate), rate(fig.return_rate), round(fig.avg_days, 1) if fig.avg_days is not None else "",
            fig.p90_days if fig.p90_days is not None else "", fig.answered, rate(fig.reply_rate), fig.closed]


def figures_line(t: Translator, ov: Overview) -> str:
    """The headline figures in one line (the `/report` caption and `wanqi report`)."""
    f = ov.total
    return t("staff.report_figures", filed=f.filed, accept=percent(f.accept_rate), reply=percent(f.reply_rate),
             close=percent(f.close_rate), answered=f.answered, closed=f.closed,
             satisfaction=percent(f.satisfaction), poor=f.poor, reopen=percent(f.reopen_rate),
             returned=percent(f.return_rate), avg=days_text(f.avg_days),
             p90=f.p90_days if f.p90_days is not None else "—", red=ov.lights.get(Light.RED, 0),
             yellow=ov.lights.get(Light.YELLOW, 0))


def add_figure_sheets(wb: Workbook, ov: Overview, settings: Settings) -> None:
    """三率统计 by department and by category, and the weekly trend with a chart (appeals.metrics)."""
    from openpyxl.chart import BarChart, Reference

    depts = {**settings.departments, None: "待分拨（中心）"}
    cats = {c.id: c.name for c in settings.routing.categories}
    for title, label, groups, names, order in (
        ("部门指标", "承办部门", ov.by_department, depts, list(settings.departments)),
        ("分类指标", "诉求分类", ov.by_category, cats, list(cats)),
    ):
        sheet = wb.create_sheet(title)
        sheet.append([label, *FIGURE_HEADER])
        for key, fig in ordered(groups, order):
            sheet.append([names.get(key, key or "未分类"), *figure_cells(fig)])
        sheet.append(["合计", *figure_cells(ov.total)])
        for row in sheet.iter_rows(min_row=2, min_col=3, max_col=max(PERCENT_COLUMNS)):
            for cell in row:
                if cell.column in PERCENT_COLUMNS:
                    cell.number_format = "0.0%"
    trend = wb.create_sheet("周趋势")
    trend.append(["周（周一）", "受理量", "答复量", "办结量", "满意率", "本周计入天数"])
    for point in ov.weekly:
        trend.append([point.week.isoformat(), point.filed, point.answered, point.closed,
                      round(point.satisfaction, 4) if point.satisfaction is not None else "", point.days])
    chart = BarChart()
    chart.title = "每周受理、答复与办结"
    chart.y_axis.title = "件"
    data = Reference(trend, min_col=2, max_col=4, min_row=1, max_row=len(ov.weekly) + 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(trend, min_col=1, min_row=2, max_row=len(ov.weekly) + 1))
    chart.width, chart.height = 24, 10
    trend.add_chart(chart, "H2")
    lights = wb.create_sheet("红黄牌")
    lights.append(["亮灯", "在办件数"])
    for level, label in ((Light.RED, "红灯（超期）"), (Light.YELLOW, "黄灯（临期）"), (Light.GREEN, "绿灯")):
        lights.append([label, ov.lights.get(level, 0)])


# A cell text starting with one of these is read as a formula by Excel and LibreOffice (CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _as_text(sheet: Worksheet) -> None:
    """Every text cell stays text: an enterprise named ``=HYPERLINK(…)`` is shown, never evaluated."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                cell.data_type = "s"
                cell.quotePrefix = True


def add_supervision_sheet(wb: Workbook, ov: Overview, settings: Settings) -> None:
    """督办: per department, how often and on how many of the period's appeals supervisors pressed it."""
    sheet = wb.create_sheet("督办")
    sheet.append(["承办部门", "督办次数", "督办件数", "受理量", "督办件数占比"])
    depts = {**settings.departments, None: "待分拨（中心）"}
    for key, fig in ordered(ov.by_department, list(settings.departments)):
        times, appeals = ov.supervised.get(key, (0, 0))
        sheet.append([depts.get(key, key or ""), times, appeals, fig.filed, round(appeals / fig.filed, 4) if fig.filed
                      else ""])
    sheet.append(["合计", *ov.supervised_total, ov.total.filed, ""])
    for row in sheet.iter_rows(min_row=2, min_col=5, max_col=5):
        for cell in row:
            cell.number_format = "0.0%"


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
            width = max(len(str(c.value or "")) for c in list(column)[:200])
            sheet.column_dimensions[get_column_letter(i)].width = min(60, max(10, width * 2))
        sheet.freeze_panes = "A2"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def build_table(title: str, header: list[str], rows: list[list[object]], note: str = "") -> bytes:
    """One list of the console as a workbook: a sheet named ``title`` (and a second with ``note``, the filters
    and when it was made), styled as the report. Written row by row (openpyxl's write-only mode): a city's year
    of appeals (10^5 rows) stays in tens of MB, not a cell object per value."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    sheet = wb.create_sheet(title[:31])
    for i, name in enumerate(header, start=1):
        width = max([len(str(name))] + [len(str(r[i - 1] or "")) for r in rows[:200] if len(r) >= i])
        sheet.column_dimensions[get_column_letter(i)].width = min(60, max(10, width * 2))
    sheet.freeze_panes = "A2"

    def cell(value: object, *, head: bool = False) -> WriteOnlyCell:
        c = WriteOnlyCell(sheet, value=value)
        if head:
            c.font, c.fill = Font(bold=True, color="FFFFFF"), PatternFill("solid", fgColor="1F4E79")
            c.alignment = Alignment(horizontal="center")
        elif isinstance(value, str) and value.startswith(FORMULA_START):  # shown, never evaluated
            c.data_type = "s"
            c.quotePrefix = True
        return c

    sheet.append([cell(name, head=True) for name in header])
    for row in rows:
        sheet.append([cell(v) for v in row])
    if note:
        about = wb.create_sheet("说明")
        about.append([cell("说明", head=True)])
        for line in note.splitlines():
            about.append([cell(line)])
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


def build_overview(ov: Overview, settings: Settings, note: str) -> bytes:
    """总览 as a workbook: 部门指标, 分类指标, 周趋势 (with a chart), 红黄牌 and 督办 (the report's figure sheets)."""
    from openpyxl import Workbook

    wb = Workbook()
    about = wb.active
    about.title = "说明"
    about.append(["说明"])
    for line in note.splitlines():
        about.append([line])
    add_figure_sheets(wb, ov, settings)
    add_supervision_sheet(wb, ov, settings)
    return finish_sheets(wb)


def build_report(appeals: list[Appeal], enterprises: dict[int, str], settings: Settings, t: Translator,
                 now: datetime, overview: Overview | None = None) -> bytes:
    """An .xlsx workbook: 部门汇总 (one row per department) and 诉求明细 (one row per appeal),
    plus, given the period's figures, 部门指标 / 分类指标 / 周趋势 (with a chart) / 红黄牌."""
    from openpyxl import Workbook

    tz = ZoneInfo(settings.center.timezone)
    t = translator(t.locale, html=False)  # cells are plain text

    def when(value: datetime | None) -> str:
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    wb = Workbook()
    summary = wb.active
    summary.title = "部门汇总"
    summary.append(["承办部门", "受理总数", "在办", "超期", "已办结", "差评", "平均评价（5分制）", "满意率"])
    depts = {**settings.departments, None: "待分拨（中心）"}
    for dept_id, name in depts.items():
        mine = [a for a in appeals if a.department_id == dept_id]
        if not mine and dept_id is None:
            continue
        rated = [a.rating for a in mine if a.rating]
        good = sum(1 for r in rated if r not in POOR)
        summary.append([
            name, len(mine), sum(a.status in OPEN for a in mine), sum(_overdue(a, now) for a in mine),
            sum(a.status is Status.CLOSED for a in mine), sum(1 for r in rated if r in POOR),
            round(sum(rated) / len(rated), 2) if rated else "", f"{good / len(rated):.0%}" if rated else "",
        ])
    detail = wb.create_sheet("诉求明细")
    detail.append(["诉求编号", "企业", "分类", "承办部门", "状态", "提交时间", "签收时限", "办理时限", "是否超期",
                   "评价", "重办次数", "内容摘要"])
    routing = settings.routing
    for a in appeals:
        detail.append([
            a.number, enterprises.get(a.enterprise_id, ""),
            routing.category(a.category).name if a.category and routing.knows(a.category) else "",
            depts.get(a.department_id, ""), t(f"status.{a.status.value}"), when(a.created_at), when(a.accept_due),
            when(a.reply_due), "是" if _overdue(a, now) else "", RATINGS.get(a.rating or 0, ""), a.reopen_count,
            a.text[:60],
        ])
    if overview is not None:
        add_figure_sheets(wb, overview, settings)
        add_supervision_sheet(wb, overview, settings)
    counts = Counter(a.status for a in appeals)
    summary.append([])
    summary.append([f"统计时间 {when(now)}，共 {len(appeals)} 件；"
                    + "，".join(f"{t(f'status.{s.value}')} {n}" for s, n in counts.items())])
    return finish_sheets(wb)
