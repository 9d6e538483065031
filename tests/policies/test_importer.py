"""Importing a center's spreadsheet: Chinese headers, tolerant separators, an added/changed/rejected report."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook

from policies.importer import import_file
from tests.policies.factories import policy

HEADERS = ["政策编号", "标题", "发文单位", "文号", "链接", "摘要", "发布日期", "生效日期", "失效日期", "申报截止",
           "适用行业", "企业规模", "适用区县", "资格标签", "成立年限下限", "成立年限上限", "关键词", "主题"]
ROWS = [
    ["imp-001", "高企认定奖励", "肇庆市科学技术局", "肇科〔2026〕9号", "https://example.gov.cn/a", "奖励新认定高企",
     "2026-03-01", "2026/3/1", "2027年12月31日", "2026-12-20", "C、I", "中型，小型", "端州区,肇庆高新区",
     "高新技术企业", "1", "", "高企 认定", "科技创新"],
    ["imp-002", "外贸保费补贴", "肇庆市商务局", "", "", "出口信用保险保费补贴", "2026-02-01", "2026-02-01", "", "",
     "制造业", "不限", "", "外贸企业", "", "", "出口；信保", "外贸、融资"],
    ["imp-003", "坏行", "示例局", "", "ftp://x", "摘要", "2026-02-30", "2026-02-01", "", "", "Z", "巨型", "火星区",
     "", "十", "", "", "宇宙"],
    ["", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""],
]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADERS)
        w.writerows(rows)
    return path


def test_csv_import_parses_chinese_columns_and_separators(tmp_path: Path) -> None:
    report = import_file(write_csv(tmp_path / "p.csv", ROWS), {})
    assert report.added == ["imp-001", "imp-002"]
    p1, p2 = report.policies
    assert p1.criteria.industries == ("C", "I")
    assert p1.criteria.scales == ("中型", "小型")
    assert p1.criteria.districts == ("端州区", "肇庆高新区")
    assert p1.valid_from == date(2026, 3, 1) and p1.valid_until == date(2027, 12, 31)
    assert p1.deadline == date(2026, 12, 20) and p1.criteria.founded_min_years == 1
    assert p1.criteria.keywords == ("高企", "认定")
    assert p2.criteria.industries == ("C",) and p2.criteria.scales == ()  # 不限 = any
    assert p2.topics == ("外贸", "融资") and p2.criteria.keywords == ("出口", "信保")
    [rej] = report.rejected
    assert rej.row == 4 and rej.policy_id == "imp-003"
    reasons = "；".join(rej.reasons)
    for header in ("链接", "发布日期", "适用行业", "企业规模", "适用区县", "成立年限下限", "主题"):
        assert header in reasons, header


def test_report_distinguishes_changed_and_unchanged(tmp_path: Path) -> None:
    first = import_file(write_csv(tmp_path / "a.csv", ROWS[:2]), {})
    existing = {p.id: p for p in first.policies}
    changed = [r[:] for r in ROWS[:2]]
    changed[1][1] = "外贸保费补贴（修订）"
    second = import_file(write_csv(tmp_path / "b.csv", changed), existing)
    assert second.added == [] and second.unchanged == ["imp-001"] and second.changed == ["imp-002"]
    assert "变更 1 条" in second.lines()[0]


def test_duplicate_id_within_a_sheet_is_rejected(tmp_path: Path) -> None:
    report = import_file(write_csv(tmp_path / "d.csv", [ROWS[0], ROWS[0]]), {})
    assert report.added == ["imp-001"] and [r.row for r in report.rejected] == [3]


def test_xlsx_import_with_date_cells_and_numbers(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(HEADERS)
    row: list[object] = list(ROWS[0])
    day = datetime(2026, 3, 1)  # noqa: DTZ001 - Excel date cells are naive
    row[6], row[7], row[9], row[14] = day, day, day.replace(month=12, day=20), 2
    ws.append(row)
    wb.save(tmp_path / "p.xlsx")
    existing = {"imp-001": policy("imp-001")}
    report = import_file(tmp_path / "p.xlsx", existing)
    assert report.changed == ["imp-001"] and not report.rejected
    [p] = report.policies
    assert p.published == date(2026, 3, 1) and p.criteria.founded_min_years == 2
