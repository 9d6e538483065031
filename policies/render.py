"""Turning matches into message text through an injected translator ``t(key, **params)``; HTML-escaped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from markupsafe import escape

from policies.matching import Match
from policies.model import Policy

Translate = Callable[..., str]
TELEGRAM_LIMIT = 4096


def deadline_note(days_left: int | None, policy: Policy, t: Translate) -> str:
    """"申报截止：… （剩 N 天）", "今天截止" or nothing."""
    if policy.deadline is None or days_left is None:
        return ""
    if days_left == 0:
        return t("policies.deadline_today", date=policy.deadline.isoformat())
    return t("policies.deadline", date=policy.deadline.isoformat(), days=days_left)


def why(match: Match, t: Translate) -> str:
    """The one-line explanation in the reader's language."""
    return match.explanation(prefix=t("policies.why_prefix"), keyword_label=t("policies.why_keywords"))


def item(n: int, match: Match, t: Translate) -> str:
    """One numbered policy entry: title, issuer and number, why it fits, deadline."""
    p = match.policy
    source = escape(p.issuer + (f" {p.doc_number}" if p.doc_number else ""))
    lines = [t("policies.item_title", n=n, title=escape(p.title)), source, escape(why(match, t))]
    note = deadline_note(match.days_left, p, t)
    if note:
        lines.append(note)
    return "\n".join(lines)


def details(policy: Policy, t: Translate) -> str:
    """The full card of one policy."""
    lines = [f"<b>{escape(policy.title)}</b>",
             escape(policy.issuer + (f" {policy.doc_number}" if policy.doc_number else "")),
             "", escape(policy.summary), "",
             t("policies.valid", start=policy.valid_from.isoformat(),
               end=policy.valid_until.isoformat() if policy.valid_until else t("policies.open_ended"))]
    if policy.deadline:
        lines.append(t("policies.deadline_plain", date=policy.deadline.isoformat()))
    if policy.url:
        lines.append(escape(policy.url))
    if policy.sample:
        lines.append(t("policies.sample_note"))
    return "\n".join(lines)


def fit(header: str, blocks: Sequence[str], footer: str = "", limit: int = TELEGRAM_LIMIT) -> str:
    """Join header, blocks and footer, dropping trailing blocks until the text fits ``limit``."""
    kept = list(blocks)
    while True:
        text = "\n\n".join([header, *kept, *([footer] if footer else [])])
        if len(text) <= limit or not kept:
            return text[:limit]
        kept.pop()


def match_list(header: str, matches: Sequence[Match], t: Translate, footer: str = "") -> str:
    """A numbered list of matches under a header, within Telegram's limit."""
    return fit(header, [item(i, m, t) for i, m in enumerate(matches, 1)], footer)


def search_list(query: str, found: Sequence[Policy], today: date, t: Translate) -> str:
    """Search results: title, issuer and number, the start of the summary, the deadline."""
    q = escape(query[:50])
    if not found:
        return t("policies.search_empty", query=q)
    blocks = []
    for n, p in enumerate(found, 1):
        lines = [t("policies.item_title", n=n, title=escape(p.title)),
                 escape(p.issuer + (f" {p.doc_number}" if p.doc_number else "")),
                 escape(p.summary[:80] + ("…" if len(p.summary) > 80 else ""))]
        note = deadline_note(None if p.deadline is None else (p.deadline - today).days, p, t)
        lines += [note] if note else []
        blocks.append("\n".join(lines))
    return fit(t("policies.search_header", query=q, count=len(found)), blocks)
