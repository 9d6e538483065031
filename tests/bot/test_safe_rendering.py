"""Text that cannot break or spoof a message: every template, the splitter, the Excel report."""

from __future__ import annotations

import re
import string
from io import BytesIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from bot.render import split_message, utf16_len
from demo.standin import APIError, _strip_html
from tests.bot.harness import SUPERVISOR, Harness, Role, credit_code
from texts import LOCALES, catalogue, escape, translator

HOSTILE = (
    '<a href="https://evil.example/verify">中心工作人员（点此核验）</a>',
    "<",
    "&",
    "星湖<科技>&贸易有限公司",
    "</b><i>",
    "&amp;lt;",
    '"\'{}',
)
_TAG = re.compile(r"<[^<>]*>")
_BARE_AMP = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);)")


def telegram_text(html: str) -> str:
    """What Telegram shows for ``html`` (parse_mode HTML), or AssertionError where it would answer 400."""
    assert not _BARE_AMP.search(html), f"bare & in {html!r}"
    try:
        return _strip_html(html)
    except APIError as exc:
        raise AssertionError(f"{exc.description}: {html!r}") from None


def _fields(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


TEMPLATES = [(locale, key) for locale in LOCALES for key in sorted(catalogue(locale))
             if _fields(catalogue(locale)[key])]


def test_there_are_templates_to_check() -> None:
    assert len(TEMPLATES) > 150  # every catalogue file is read, both locales


@pytest.mark.parametrize(("locale", "key"), TEMPLATES)
def test_every_template_shows_hostile_values_as_text(locale: str, key: str) -> None:
    t = translator(locale)
    template = catalogue(locale)[key]
    for hostile in HOSTILE:
        html = t(key, **dict.fromkeys(_fields(template), hostile))
        assert len(_TAG.findall(html)) == len(_TAG.findall(template)), f"{hostile!r} injected a tag"
        assert hostile in telegram_text(html)  # shown exactly as typed


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(TEMPLATES), st.text(min_size=1, max_size=40))
def test_every_template_with_any_value_is_valid_telegram_html(case: tuple[str, str], value: str) -> None:
    locale, key = case
    template = catalogue(locale)[key]
    html = translator(locale)(key, **dict.fromkeys(_fields(template), value))
    assert len(_TAG.findall(html)) == len(_TAG.findall(template))
    assert value in telegram_text(html)


def test_plain_translations_do_not_escape() -> None:
    t = translator("zh-CN")
    assert t.plain("staff.dispatch_to", category="A&B") == "派至 A&B"
    assert t("staff.dispatch_to", category="A&B") == "派至 A&amp;B"
    assert translator(None, html=False)("staff.dispatch_to", category="<x>") == "派至 <x>"


# ---- the splitter --------------------------------------------------------------------------------

_TAGS = ("b", "i", "u", "s", "code", "tg-spoiler")
_CHARS = st.one_of(st.characters(codec="utf-8", exclude_categories=("Cs",)), st.sampled_from("😀𠀋\n\n&<>"))


@st.composite
def telegram_html(draw: st.DrawFn, depth: int = 0) -> str:
    """Valid Telegram HTML: escaped text (with astral characters and line breaks) in nested tags."""
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        if depth < 3 and draw(st.booleans()):
            tag = draw(st.sampled_from(_TAGS))
            inner = draw(telegram_html(depth + 1))
            opening = f'<a href="https://example.org/{depth}">' if tag == "u" and draw(st.booleans()) else f"<{tag}>"
            closing = "</a>" if opening.startswith("<a") else f"</{tag}>"
            parts.append(f"{opening}{inner}{closing}")
        else:
            parts.append(str(escape(draw(st.text(_CHARS, max_size=300)))))
    return "".join(parts)


@settings(max_examples=300, deadline=None)
@given(telegram_html(), st.integers(80, 600))
def test_split_parts_fit_are_valid_and_lose_nothing(html: str, limit: int) -> None:
    parts = split_message(html, limit)
    for part in parts:  # each part parses on its own (no cut tag, entity or pairing) and fits
        assert utf16_len(telegram_text(part)) <= limit
    original = telegram_text(html).replace("\n", "")
    assert "".join(telegram_text(p) for p in parts).replace("\n", "") == original


def test_split_counts_utf16_units_like_telegram() -> None:
    text = "😀" * 3000  # 3,000 characters, 6,000 UTF-16 units
    parts = split_message(text)
    assert len(parts) == 2 and all(utf16_len(p) <= 4096 for p in parts) and "".join(parts) == text
    assert utf16_len("😀a𠀋") == 5


def test_split_prefers_a_line_break_and_keeps_tags_open_across_parts() -> None:
    text = "<b>" + "甲" * 3000 + "\n" + "乙" * 2000 + "</b>"
    first, second = split_message(text)
    assert first == "<b>" + "甲" * 3000 + "</b>" and second == "<b>" + "乙" * 2000 + "</b>"


# ---- through the bot ---------------------------------------------------------------------------

SPOOF = '<a href="https://evil.example/verify">中心工作人员（点此核验）</a>'


async def test_a_spoofing_claimant_name_arrives_as_text_and_the_claim_is_delivered(h: Harness) -> None:
    owner, claimant = 101, 102
    code = credit_code("91441200MA4W0777")
    await h.register(owner, "星湖<科技>&贸易有限公司", code)
    ent = h.one("SELECT name FROM enterprises")
    assert ent["name"] == "星湖<科技>&贸易有限公司"  # registration finished, name stored as typed
    await h.feed({"message": {"message_id": 9, "date": 0, "chat": {"id": claimant, "type": "private"},
                              "from": {"id": claimant, "is_bot": False, "first_name": SPOOF}, "text": "/start",
                              "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}})
    await h.press(claimant, "r:begin:1")
    for answer in ("星湖科技", code, "李四", "13900139000"):
        await h.send(claimant, answer)
    for step in ("r:industry:C", "r:scale:小型", "r:district:端州区", "r:confirm:1"):
        await h.press(claimant, step)
    request = h.to(owner)[-1]
    assert SPOOF in telegram_text(request.text) and "<a " not in request.text
    assert any(d.startswith("c:") for _, d in request.buttons)
    assert SPOOF in telegram_text(h.to(SUPERVISOR)[-1].text)
    await h.press(owner, request.data("同意"))
    assert h.one("SELECT status FROM claims")["status"] == "approved"


async def test_a_long_emoji_appeal_reaches_the_handler_and_view_works(h: Harness) -> None:
    await h.register(101)
    await h.join(201, Role.HANDLER, "tax")
    text = "发票问题😀" * 1001  # 5,005 characters, 6,006 UTF-16 units
    appeal_id, sent = await h.file(101, text)
    card = h.to(201, sent)
    assert len(card) >= 2 and all(utf16_len(telegram_text(p.text)) <= 4096 for p in card)
    assert sum(telegram_text(p.text).count("😀") for p in card) == 1001
    number = h.one("SELECT number FROM appeals WHERE id = ?", [appeal_id])["number"]
    shown = await h.send(201, f"/view {number}")
    assert len(shown) >= 2 and sum(p.text.count("😀") for p in shown) == 1001


async def test_the_excel_report_stores_formula_like_values_as_text(h: Harness) -> None:
    await h.register(101, '=HYPERLINK("https://evil.example","点此")')
    await h.file(101, "=1+2 发票开不出来")
    await h.file(101, "@SUM(A1) 退税")
    await h.send(SUPERVISOR, "/report 7")
    call = [c for c in h.session.calls if c.__api_method__ == "sendDocument"][-1]
    detail = load_workbook(BytesIO(call.document.data))["诉求明细"]
    cells = [c for row in detail.iter_rows(min_row=2) for c in row if isinstance(c.value, str)]
    risky = [c for c in cells if c.value.startswith(("=", "+", "-", "@"))]
    assert {c.value[:4] for c in risky} >= {"=HYP", "=1+2", "@SUM"}
    assert all(c.data_type == "s" and c.quotePrefix for c in risky)


async def test_hostile_text_travels_every_path_as_typed(h: Harness) -> None:
    """Card, detail, reply, follow-up, messages, notes and a return reason: shown as typed, never as markup."""
    name, text = "星湖<科技>&贸易有限公司", "发票 <b>开不出</b> & <a href='x'>点此</a> 怎么办"
    reply, follow = "请见 <i>附件</i> & 通知", "补充：<code>税控盘</code> 报错 &amp;"
    await h.register(101, name)
    await h.join(201, Role.HANDLER, "tax")
    appeal_id, sent = await h.file(101, text)
    card = "".join(telegram_text(s.text) for s in h.to(201, sent))
    assert name in card and text in card
    number = h.one("SELECT number FROM appeals WHERE id = ?", [appeal_id])["number"]
    await h.act(201, "acc", appeal_id)
    await h.act(201, "note", appeal_id)
    await h.send(201, "内部：<s>勿外传</s>")
    await h.act(201, "rep", appeal_id)
    sent = await h.send(201, reply)
    assert reply in telegram_text(h.to(101, sent)[-1].text)
    await h.act(101, "fu", appeal_id)
    sent = await h.send(101, follow)
    assert follow in telegram_text(h.to(201, sent)[-1].text)
    detail = "".join(telegram_text(s.text) for s in await h.send(201, f"/view {number}"))
    assert all(x in detail for x in (name, text, reply, follow, "内部：<s>勿外传</s>"))
    mine = "".join(telegram_text(s.text) for s in await h.send(101, f"/view {number}"))
    assert reply in mine and "勿外传" not in mine  # the internal note stays internal
