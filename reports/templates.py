"""Example spreadsheets a center fills in: the policy import (`wanqi policies template`) and labelled
appeals for training (`wanqi nlu template`). Every header, an example row, and a sheet explaining each column."""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from appeals.reference import DISTRICTS, INDUSTRIES, SCALES
from config import Settings
from policies.catalogue import MAX_ID
from policies.importer import COLUMNS, TEMPLATE_HEADERS
from policies.model import TAGS, TOPICS
from texts import Translator

_EXAMPLE_POLICY: dict[str, Any] = {
    "id": "zq-2026-fin-001", "title": "肇庆市中小微企业应急转贷资金使用办法", "issuer": "肇庆市金融工作局",
    "doc_number": "肇金〔2026〕1号", "url": "https://www.zhaoqing.gov.cn/",
    "summary": "为资金周转困难的中小微企业提供续贷过桥资金，单笔最高1000万元。",
    "published": "2026-03-15", "valid_from": "2026-03-15", "valid_until": "2027-12-31", "deadline": "",
    "industries": "C、F、I", "scales": "中型、小型、微型", "districts": "", "tags": "",
    "founded_min_years": 1, "founded_max_years": "", "keywords": "续贷、转贷、过桥资金", "topics": "融资",
}


def _workbook(title: str, headers: list[str], rows: list[list[Any]], notes_title: str,
              notes: list[tuple[str, str]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    help_sheet = book.create_sheet(notes_title)
    for header, note in notes:
        help_sheet.append([header, note])
    help_sheet.column_dimensions["A"].width = 16
    help_sheet.column_dimensions["B"].width = 100
    out = BytesIO()
    book.save(out)
    return out.getvalue()


def policy_template(t: Translator) -> bytes:
    """Every import header (in the importer's order), one example row, and what each column takes."""
    field = {header: name for header, name in COLUMNS.items() if header in TEMPLATE_HEADERS}
    industries = "；".join(f"{letter} {name}" for letter, name in INDUSTRIES.items())
    values = {"id_max": MAX_ID, "industries": industries, "scales": "、".join(SCALES),
              "districts": "、".join(DISTRICTS), "tags": "、".join(TAGS), "topics": "、".join(TOPICS)}
    notes = [(h, t(f"cli.template.policy.{field[h]}", **values)) for h in TEMPLATE_HEADERS]
    rows = [[_EXAMPLE_POLICY[field[h]] for h in TEMPLATE_HEADERS]]
    return _workbook(t("cli.template.policy_sheet"), list(TEMPLATE_HEADERS), rows, t("cli.template.notes_sheet"),
                     [(t("cli.template.column"), t("cli.template.meaning")), *notes])


def nlu_template(t: Translator, settings: Settings) -> bytes:
    """Columns ``text`` and ``label`` (the defaults of ``wanqi nlu import/train``), examples, the category ids."""
    categories = settings.routing.categories
    rows = [["我们公司的增值税留抵退税申请两个月了还没到账，请帮忙查一下进度。", "tax"],
            ["想申请用电增容到800千伏安，不知道要准备哪些材料。", "utilities"]]
    notes = [(t("cli.template.column"), t("cli.template.meaning")),
             ("text", t("cli.template.nlu_text")), ("label", t("cli.template.nlu_label")),
             *[(c.id, c.name) for c in categories]]
    return _workbook(t("cli.template.nlu_sheet"), ["text", "label"], rows, t("cli.template.notes_sheet"), notes)
