"""Loading and validating the policy catalogue (YAML files); every error names file, record and field."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from appeals.reference import DISTRICTS, INDUSTRIES, SCALES
from policies.model import TAGS, TOPICS, Criteria, Policy

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MAX_ID = 48  # the id travels in inline-button callback data (64 bytes in all)
POLICY_FIELDS = frozenset({
    "id", "title", "issuer", "doc_number", "url", "summary", "published", "valid_from",
    "valid_until", "deadline", "topics", "criteria",
})
CRITERIA_FIELDS = frozenset({
    "industries", "scales", "districts", "tags", "founded_min_years", "founded_max_years", "keywords",
})
_CHOICES: dict[str, tuple[str, ...]] = {
    "industries": tuple(INDUSTRIES), "scales": SCALES, "districts": DISTRICTS, "tags": TAGS,
}


class _Loader(yaml.SafeLoader):
    """Safe YAML that leaves dates as text, so a bad date is one field error, not a crashed file."""


_Loader.add_constructor("tag:yaml.org,2002:timestamp", lambda loader, node: loader.construct_scalar(node))  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Issue:
    """One validation error: where (file, record) and what (field, message)."""

    source: str
    record: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}: {self.record}" if self.record else self.source
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class CatalogueError(ValueError):
    """The catalogue did not validate; ``issues`` lists every problem found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        return date.fromisoformat(value.strip())
    raise ValueError


def _str_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise TypeError
    return tuple(str(v).strip() for v in value if str(v).strip())


def parse_policy(
    raw: Mapping[str, Any], *, sample: bool = False
) -> tuple[Policy | None, list[tuple[str, str]]]:
    """Validate one raw record; returns the policy or None, and (field, message) pairs for every problem."""
    errs: list[tuple[str, str]] = []

    def text(name: str, required: bool) -> str | None:
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                errs.append((name, "必填"))
            return None
        if not isinstance(value, str | int):
            errs.append((name, f"应为文本，实为 {type(value).__name__}"))
            return None
        return str(value).strip()

    def day(name: str, required: bool) -> date | None:
        value = raw.get(name)
        if value is None or value == "":
            if required:
                errs.append((name, "必填"))
            return None
        try:
            return _to_date(value)
        except (ValueError, TypeError):
            errs.append((name, f"不是有效日期（YYYY-MM-DD）：{value!r}"))
            return None

    for unknown in sorted(set(raw) - POLICY_FIELDS):
        errs.append((unknown, "未知字段"))
    pid = text("id", True)
    if pid is not None and not ID_RE.match(pid):
        errs.append(("id", f"只能用小写字母、数字和连字符：{pid!r}"))
    elif pid is not None and len(pid) > MAX_ID:
        errs.append(("id", f"不超过 {MAX_ID} 个字符（按钮数据上限 64 字节）"))
    title, issuer, summary = text("title", True), text("issuer", True), text("summary", True)
    doc_number, url = text("doc_number", False), text("url", False)
    if url is not None and not re.match(r"^https://\S+\.\S+$", url):
        errs.append(("url", f"应为 https 链接或留空：{url!r}"))
    published, valid_from = day("published", True), day("valid_from", True)
    valid_until, deadline = day("valid_until", False), day("deadline", False)
    if valid_from and valid_until and valid_until < valid_from:
        errs.append(("valid_until", "早于生效日期"))
    if valid_from and deadline and deadline < valid_from:
        errs.append(("deadline", "早于生效日期"))
    if valid_until and deadline and deadline > valid_until:
        errs.append(("deadline", "晚于失效日期"))
    topics: tuple[str, ...] = ()
    try:
        topics = _str_list(raw.get("topics"))
    except TypeError:
        errs.append(("topics", "应为列表"))
    if not topics and "topics" not in [e[0] for e in errs]:
        errs.append(("topics", "至少一个主题"))
    for bad in [t for t in topics if t not in TOPICS]:
        errs.append(("topics", f"未知主题 {bad!r}（可选：{'、'.join(TOPICS)}）"))
    criteria = _parse_criteria(raw.get("criteria"), errs)
    if errs or pid is None or title is None or issuer is None or summary is None:
        return None, errs
    assert published is not None and valid_from is not None
    return Policy(
        id=pid, title=title, issuer=issuer, summary=summary, published=published, valid_from=valid_from,
        valid_until=valid_until, deadline=deadline, doc_number=doc_number, url=url, topics=topics,
        criteria=criteria, sample=sample,
    ), []


def _parse_criteria(raw: Any, errs: list[tuple[str, str]]) -> Criteria:
    if raw is None:
        return Criteria()
    if not isinstance(raw, Mapping):
        errs.append(("criteria", "应为映射"))
        return Criteria()
    for unknown in sorted(set(raw) - CRITERIA_FIELDS):
        errs.append((f"criteria.{unknown}", "未知字段"))
    lists: dict[str, tuple[str, ...]] = {}
    for name in ("industries", "scales", "districts", "tags", "keywords"):
        try:
            values = _str_list(raw.get(name))
        except TypeError:
            errs.append((f"criteria.{name}", "应为列表"))
            values = ()
        if name == "industries":
            values = tuple(v.upper() for v in values)
        allowed = _CHOICES.get(name)
        if allowed is not None:
            for bad in [v for v in values if v not in allowed]:
                errs.append((f"criteria.{name}", f"未知取值 {bad!r}"))
        lists[name] = tuple(dict.fromkeys(values))
    bounds: dict[str, int | None] = {}
    for name in ("founded_min_years", "founded_max_years"):
        value = raw.get(name)
        if value is None or value == "":
            bounds[name] = None
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errs.append((f"criteria.{name}", f"应为非负整数：{value!r}"))
            bounds[name] = None
        else:
            bounds[name] = value
    lo, hi = bounds["founded_min_years"], bounds["founded_max_years"]
    if lo is not None and hi is not None and lo > hi:
        errs.append(("criteria.founded_max_years", f"小于成立年限下限 {lo}"))
    return Criteria(
        industries=lists["industries"], scales=lists["scales"], districts=lists["districts"],
        tags=lists["tags"], keywords=lists["keywords"], founded_min_years=lo, founded_max_years=hi,
    )


def _files(paths: Path | str | Iterable[Path | str]) -> list[Path]:
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    found: list[Path] = []
    for item in map(Path, items):
        found.extend(sorted([*item.glob("*.yml"), *item.glob("*.yaml")]) if item.is_dir() else [item])
    return found


def load_catalogue(paths: Path | str | Iterable[Path | str]) -> list[Policy]:
    """Load YAML files (or every *.yml in a directory); raises CatalogueError listing all problems."""
    issues: list[Issue] = []
    policies: list[Policy] = []
    seen: dict[str, str] = {}
    for path in _files(paths):
        source = path.name
        try:
            doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except OSError:
            issues.append(Issue(source, "", "", "无法读取该文件"))
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"（第 {mark.line + 1} 行附近）" if mark is not None else ""
            issues.append(Issue(source, "", "", f"不是有效的 YAML{where}"))
            continue
        if not isinstance(doc, Mapping) or not isinstance(doc.get("policies"), list):
            issues.append(Issue(source, "", "policies", "文件应含 policies 列表"))
            continue
        sample = doc.get("sample") is True
        for index, raw in enumerate(doc["policies"]):
            label = f"policies[{index}]"
            if not isinstance(raw, Mapping):
                issues.append(Issue(source, label, "", "记录应为映射"))
                continue
            if isinstance(raw.get("id"), str):
                label = f"{label} ({raw['id']})"
            policy, errs = parse_policy(raw, sample=sample)
            issues.extend(Issue(source, label, f, m) for f, m in errs)
            if policy is None:
                continue
            if policy.id in seen:
                issues.append(Issue(source, label, "id", f"与 {seen[policy.id]} 重复"))
                continue
            seen[policy.id] = source
            policies.append(policy)
    if issues:
        raise CatalogueError(issues)
    return policies
