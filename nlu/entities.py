"""Rule entities in appeal texts: credit codes, phones, money, dates, districts, departments.

Pure Python (``re``), shared by the embedded backend and the Rasa client. Offsets refer to the
original text; values are normalized as ``appeals.ports.Entity`` documents.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from appeals import credit_code
from appeals.ports import Entity
from nlu.numerals import CHINESE_NUMERAL_CHARS, chinese_integer, plain, to_decimal

LABELS = ("credit_code", "phone", "money", "date", "district", "department")

# Full-width ASCII -> half-width, one character for one, so offsets stay valid.
_HALF_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

DISTRICTS: dict[str, tuple[str, ...]] = {
    "端州区": ("端州",),
    "鼎湖区": ("鼎湖",),
    "高要区": ("高要",),
    "四会市": ("四会",),
    "广宁县": ("广宁",),
    "怀集县": ("怀集",),
    "封开县": ("封开",),
    "德庆县": ("德庆",),
    "肇庆高新区": ("肇庆高新技术产业开发区", "高新技术产业开发区", "高新区", "大旺"),
    "肇庆新区": ("新区管委会",),
}

# Canonical department names (as in config.yml) -> common aliases people write.
DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "市市场监管局": ("市场监督管理局", "市场监管局", "市场监管部门", "市监局", "工商局", "工商部门",
                  "知识产权局"),
    "市税务局": ("税务局", "税务分局", "税务所", "税务部门", "国税局", "地税局", "税局", "电子税务局"),
    "市金融局": ("地方金融监督管理局", "金融工作局", "金融局", "金融办"),
    "市人社局": ("人力资源和社会保障局", "人社局", "人社部门", "社保局", "社保中心", "劳动局",
              "劳动监察大队", "劳动保障监察"),
    "市住建局": ("住房和城乡建设局", "住建局", "住建部门", "建设局"),
    "市自然资源局": ("自然资源局", "自然资源部门", "国土局", "国土部门", "不动产登记中心"),
    "市城管局": ("城市管理和综合执法局", "城市管理局", "城管局", "城管部门"),
    "市生态环境局": ("生态环境局", "生态环境分局", "生态环境部门", "环保局", "环保部门", "环境保护局"),
    "市政数局": ("政务服务数据管理局", "政务服务和数据管理局", "政数局", "政务服务中心", "行政服务中心"),
    "市交通局": ("交通运输局", "交通局", "交通部门"),
    "市应急局": ("应急管理局", "应急局", "安监局", "安全生产监督管理局"),
    "市发改局（信用办）": ("发展和改革局", "发改局", "发改委", "信用办"),
    "供电局": ("供电公司", "电力局", "南方电网", "电网公司"),
    "供水公司": ("自来水公司", "水务公司", "水务集团"),
    "燃气公司": ("燃气集团", "天然气公司"),
    "公安局": ("公安分局", "派出所"),
    "消防救援支队": ("消防救援大队", "消防大队", "消防部门"),
    "海关": ("肇庆海关",),
}

_CODE = re.compile(r"(?<![0-9A-Za-z])[0-9A-Za-z]{18}(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)[(（]?(0\d{2,3})[)）]?[\s-]?([2-9]\d{6,7})(?!\d)")
_CN_NUM = f"[{CHINESE_NUMERAL_CHARS}]"
_DAY_NUM = r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})"
_YMD = re.compile(r"(?<!\d)(\d{4}|[二〇○零一三四五六七八九]{4})\s?(?:年\s?|[-/.])"
                  rf"({_DAY_NUM})\s?(?:月\s?|[-/.])({_DAY_NUM})(?:日|号)?(?!\d)")
_MONTH_PART = "(?:份|底|初|中旬|上旬|下旬)"
_YM = re.compile(rf"(?<!\d)(\d{{4}})\s?年\s?({_DAY_NUM})\s?月(?!\s?{_DAY_NUM}\s?[日号]){_MONTH_PART}?")
_M_PART = re.compile(rf"(?<![\d年/.-])({_DAY_NUM})\s?月{_MONTH_PART}")
_MD = re.compile(rf"(?<![\d年/.-])({_DAY_NUM})\s?月\s?({_DAY_NUM})\s?[日号]")
_MONEY = re.compile(
    r"(?P<pre>[¥￥]\s?|人民币\s?)?"
    rf"(?P<num>\d+(?:,\d{{3}})*(?:\.\d+)?|[一二两三四五六七八九十壹贰叁肆伍陆柒捌玖拾]{_CN_NUM}*)"
    r"\s?(?P<mult>(?:千万|百万|十万|十|百|千|万|亿)?)"
    r"(?P<cur>元|块钱|块|人民币)?"
)
MAX_NUMERAL = 24  # characters: 999,999,999,999,999.99 (a quadrillion yuan) fits, a 4,301-digit run does not
_MULT = {"": 1, "十": 10, "百": 100, "千": 1000, "万": 10**4, "亿": 10**8,
         "十万": 10**5, "百万": 10**6, "千万": 10**7}
_MEASURE_AFTER = re.compile(r"\s?[平方米亩吨人个家户台辆件次公斤千克里多余字号条份套张块间期批天年月日]")


def _alias_pattern(table: Mapping[str, Iterable[str]]) -> tuple[re.Pattern[str], dict[str, str]]:
    lookup: dict[str, str] = {}
    for canonical, aliases in table.items():
        lookup.setdefault(canonical, canonical)
        for alias in aliases:
            lookup.setdefault(alias, canonical)
    alternatives = sorted(lookup, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, alternatives))), lookup


def department_aliases(names: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The alias table extended with a center's own department names (e.g. from config.yml)."""
    table = {k: tuple(v) for k, v in DEPARTMENTS.items()}
    for name in names:
        if name in table:
            continue
        bare = re.sub(r"[（(].*?[)）]", "", name)
        short = bare[1:] if bare.startswith("市") and len(bare) > 3 else bare
        table[name] = tuple(a for a in {bare, short} if a != name)
    return table


class EntityExtractor:
    """Finds rule entities; earlier labels in ``LABELS`` win where spans overlap."""

    def __init__(self, departments: Mapping[str, Iterable[str]] | None = None,
                 today: date | None = None) -> None:
        self._district_re, self._districts = _alias_pattern(DISTRICTS)
        self._department_re, self._departments = _alias_pattern(departments or DEPARTMENTS)
        self._today = today

    def extract(self, text: str) -> tuple[Entity, ...]:
        """All entities in ``text``, sorted by position, without overlaps."""
        norm = text.translate(_HALF_WIDTH)
        taken: list[Entity] = []
        for finder in (self._codes, self._phones, self._dates, self._money, self._places, self._depts):
            for ent in finder(norm):
                if all(ent.end <= t.start or ent.start >= t.end for t in taken):
                    taken.append(Entity(ent.label, text[ent.start:ent.end], ent.start, ent.end, ent.value))
        return tuple(sorted(taken, key=lambda e: e.start))

    def _codes(self, text: str) -> Iterator[Entity]:
        for m in _CODE.finditer(text):
            code = m.group().upper()
            if credit_code.is_valid(code):
                yield Entity("credit_code", m.group(), m.start(), m.end(), code)

    def _phones(self, text: str) -> Iterator[Entity]:
        for m in _MOBILE.finditer(text):
            yield Entity("phone", m.group(), m.start(), m.end(), "".join(m.groups()))
        for m in _LANDLINE.finditer(text):
            yield Entity("phone", m.group(), m.start(), m.end(), f"{m.group(1)}-{m.group(2)}")

    def _dates(self, text: str) -> Iterator[Entity]:
        for m in _YMD.finditer(text):
            year, month, day = (chinese_integer(g) if not g.isdigit() else int(g) for g in m.groups())
            value = _iso(year, month, day)
            if value:
                yield Entity("date", m.group(), m.start(), m.end(), value)
        for m in _YM.finditer(text):
            year, month = int(m.group(1)), _int(m.group(2))
            if month and 1 <= month <= 12:
                yield Entity("date", m.group(), m.start(), m.end(), f"{year:04d}-{month:02d}")
        today = self._today or datetime.now(ZoneInfo("Asia/Shanghai")).date()
        for m in _MD.finditer(text):
            value = _iso(today.year, _int(m.group(1)), _int(m.group(2)))
            if value:
                yield Entity("date", m.group(), m.start(), m.end(), value)
        for m in _M_PART.finditer(text):
            month = _int(m.group(1))
            if month and 1 <= month <= 12:
                yield Entity("date", m.group(), m.start(), m.end(), f"{today.year:04d}-{month:02d}")

    def _money(self, text: str) -> Iterator[Entity]:
        for m in _MONEY.finditer(text):
            mult, cur, pre = m.group("mult"), m.group("cur"), m.group("pre")
            big = mult.endswith(("万", "亿")) or (not mult and re.search("[万萬亿]", m.group("num")))
            if not (cur or pre or big):
                continue
            if not (cur or pre) and _MEASURE_AFTER.match(text, m.end()):
                continue
            if len(m.group("num")) > MAX_NUMERAL:  # not an amount; int() of 4,301+ digits would raise
                continue
            number = to_decimal(m.group("num"))
            if number is None or number == 0:
                continue
            start = m.start() if pre else m.start("num")
            end = m.end()
            while end > start and text[end - 1].isspace():
                end -= 1
            yield Entity("money", text[start:end], start, end, plain(number * _MULT[mult]))

    def _places(self, text: str) -> Iterator[Entity]:
        for m in self._district_re.finditer(text):
            yield Entity("district", m.group(), m.start(), m.end(), self._districts[m.group()])

    def _depts(self, text: str) -> Iterator[Entity]:
        for m in self._department_re.finditer(text):
            yield Entity("department", m.group(), m.start(), m.end(), self._departments[m.group()])


def _int(text: str) -> int | None:
    return int(text) if text.isdigit() else chinese_integer(text)


def _iso(year: int | None, month: int | None, day: int | None) -> str | None:
    if year is None or month is None or day is None:
        return None
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


_DEFAULT = EntityExtractor()


def extract(text: str) -> tuple[Entity, ...]:
    """Entities in ``text`` with the default tables (Zhaoqing districts, config.yml departments)."""
    return _DEFAULT.extract(text)
