"""Importing a center's policy spreadsheet (xlsx or csv, Chinese column headers) with a change report."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from appeals.reference import INDUSTRIES
from policies.catalogue import parse_policy
from policies.model import Policy

# Column header (as staff write it) -> record field. Aliases cover common variants.
COLUMNS: dict[str, str] = {
    "政策编号": "id", "编号": "id",
    "标题": "title", "政策名称": "title", "政策标题": "title",
    "发文单位": "issuer", "发布单位": "issuer", "发文机关": "issuer",
    "文号": "doc_number", "发文字号": "doc_number",
    "链接": "url", "网址": "url", "原文链接": "url",
    "摘要": "summary", "政策摘要": "summary", "内容摘要": "summary",
    "发布日期": "published", "生效日期": "valid_from", "失效日期": "valid_until",
    "申报截止": "deadline", "申报截止日期": "deadline", "截止日期": "deadline",
    "适用行业": "industries", "行业": "industries",
    "企业规模": "scales", "规模": "scales",
    "适用区县": "districts", "区县": "districts",
    "资格标签": "tags", "标签": "tags",
    "成立年限下限": "founded_min_years", "成立年限上限": "founded_max_years",
    "关键词": "keywords", "主题": "topics",
}
_HEADER: dict[str, str] = {}
for _h, _f in COLUMNS.items():
    _HEADER.setdefault(_f, _h)
# The headers of the template (`wanqi policies template`), one per field, in this order.
TEMPLATE_HEADERS: tuple[str, ...] = tuple(_HEADER.values())
LIST_FIELDS = frozenset({"industries", "scales", "districts", "tags", "keywords", "topics"})
CRITERIA_KEYS = ("industries", "scales", "districts", "tags", "founded_min_years", "founded_max_years",
                 "keywords")
_SPLIT = re.compile(r"[、，,;；/|\s]+")
_ANY = frozenset({"", "不限", "全部", "所有", "无", "-", "—"})
_INDUSTRY_BY_NAME = {name: letter for letter, name in INDUSTRIES.items()}
_SCALE_SHORT = {"大": "大型", "中": "中型", "小": "小型", "微": "微型"}


@dataclass(frozen=True, slots=True)
class Rejected:
    row: int
    policy_id: str
    reasons: tuple[str, ...]


@dataclass(slots=True)
class ImportReport:
    """What an import did: ids added, changed, unchanged, and rows rejected with reasons."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)

    def lines(self) -> list[str]:
        """A short human-readable report."""
        out = [f"新增 {len(self.added)} 条，变更 {len(self.changed)} 条，未变 {len(self.unchanged)} 条，"
               f"拒绝 {len(self.rejected)} 条"]
        out += [f"  新增：{pid}" for pid in self.added]
        out += [f"  变更：{pid}" for pid in self.changed]
        out += [f"  拒绝：第 {r.row} 行 {r.policy_id or '（无编号）'}：{'；'.join(r.reasons)}"
                for r in self.rejected]
        return out


def _split(value: Any) -> list[str]:
    if value is None:
        return []
    text = str(value).strip()
    return [] if text in _ANY else [p for p in _SPLIT.split(text) if p and p not in _ANY]


def _industry(value: str) -> str:
    letter = value.strip().upper()
    return letter if letter in INDUSTRIES else _INDUSTRY_BY_NAME.get(value.strip(), value.strip())


def _date(value: Any) -> Any:
    if value is None or isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    text = str(value).strip()
    if not text:
        return None
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+[\d:]+)?", text)
    if m:
        try:
            return date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            return text
    return text


def _int(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+)\s*年?\s*", value)
        return int(m[1]) if m else value
    return value


def row_to_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """Map one spreadsheet row (header -> cell) to a raw catalogue record."""
    flat: dict[str, Any] = {}
    for header, value in row.items():
        key = COLUMNS.get(str(header).strip()) if header is not None else None
        if key is None:
            continue
        if isinstance(value, str):
            value = value.strip()
        if key in LIST_FIELDS:
            items = _split(value)
            if key == "industries":
                items = [_industry(v) for v in items]
            elif key == "scales":
                items = [_SCALE_SHORT.get(v, v) for v in items]
            flat[key] = items
        elif key in ("published", "valid_from", "valid_until", "deadline"):
            flat[key] = _date(value)
        elif key in ("founded_min_years", "founded_max_years"):
            flat[key] = _int(value)
        else:
            flat[key] = None if value in (None, "") else (str(int(value)) if isinstance(value, float)
                                                          and value.is_integer() else value)
    record = {k: v for k, v in flat.items() if k not in CRITERIA_KEYS}
    record["criteria"] = {k: flat[k] for k in CRITERIA_KEYS if k in flat}
    return record


def read_rows(path: Path | str) -> list[dict[str, Any]]:
    """Rows of an .xlsx (first sheet) or .csv (UTF-8 with or without BOM, or GB18030) file."""
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = wb.worksheets[0]
            values = list(sheet.iter_rows(values_only=True))
        finally:
            wb.close()
        if not values:
            return []
        headers = [str(h).strip() if h is not None else "" for h in values[0]]
        return [dict(zip(headers, r, strict=False)) for r in values[1:]]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    return [dict(r) for r in csv.DictReader(io.StringIO(text))]


def import_rows(rows: Iterable[Mapping[str, Any]], existing: Mapping[str, Policy]) -> ImportReport:
    """Validate rows against the catalogue rules and compare with ``existing`` (id -> policy)."""
    report = ImportReport()
    seen: set[str] = set()
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        if all(v is None or str(v).strip() == "" for v in row.values()):
            continue
        record = row_to_record(row)
        pid = str(record.get("id") or "")
        policy, errs = parse_policy(record)
        if policy is not None and policy.id in seen:
            errs = [("id", "表内重复")]
        if policy is None or errs:
            report.rejected.append(Rejected(number, pid, tuple(f"{_header(f)}：{m}" for f, m in errs)))
            continue
        seen.add(policy.id)
        old = existing.get(policy.id)
        if old is None:
            report.added.append(policy.id)
        elif _same(old, policy):
            report.unchanged.append(policy.id)
        else:
            report.changed.append(policy.id)
        report.policies.append(policy)
    return report


def _header(name: str) -> str:
    return _HEADER.get(name.removeprefix("criteria."), name)


def _same(a: Policy, b: Policy) -> bool:
    """Equal in content (the sample flag is provenance, not content)."""
    from dataclasses import replace

    return replace(a, sample=False) == replace(b, sample=False)


def import_file(path: Path | str, existing: Mapping[str, Policy]) -> ImportReport:
    """Read and validate a spreadsheet; the caller stores ``report.policies``."""
    return import_rows(read_rows(path), existing)
