"""The supervisors' Excel report: per-department figures and every appeal of the period."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from io import BytesIO
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from appeals.lifecycle import OPEN, Status
from appeals.model import Appeal
from appeals.service import POOR, RATINGS
from bot.config import Settings
from bot.texts import Translator

HEADER = Font(bold=True, color="FFFFFF")
FILL = PatternFill("solid", fgColor="1F4E79")


def _overdue(appeal: Appeal, now: datetime) -> bool:
    if appeal.status in (Status.DISPATCHED, Status.REOPENED):
        return appeal.accept_due is not None and appeal.accept_due < now
    if appeal.status is Status.ACCEPTED:
        return appeal.reply_due is not None and appeal.reply_due < now
    return False


def build_report(appeals: list[Appeal], enterprises: dict[int, str], settings: Settings, t: Translator,
                 now: datetime) -> bytes:
    """An .xlsx workbook: 部门汇总 (one row per department) and 诉求明细 (one row per appeal)."""
    tz = ZoneInfo(settings.center.timezone)

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
    counts = Counter(a.status for a in appeals)
    summary.append([])
    summary.append([f"统计时间 {when(now)}，共 {len(appeals)} 件；"
                    + "，".join(f"{t(f'status.{s.value}')} {n}" for s, n in counts.items())])
    for sheet in (summary, detail):
        for cell in sheet[1]:
            cell.font, cell.fill = HEADER, FILL
            cell.alignment = Alignment(horizontal="center")
        for i, column in enumerate(sheet.columns, start=1):
            width = max(len(str(c.value or "")) for c in list(column)[:200])
            sheet.column_dimensions[get_column_letter(i)].width = min(60, max(10, width * 2))
        sheet.freeze_panes = "A2"
    out = BytesIO()
    wb.save(out)
    return out.getvalue()
