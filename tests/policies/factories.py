"""Small builders for policy tests."""

from __future__ import annotations

from datetime import date
from typing import Any

from policies.model import Criteria, Policy, Profile

TODAY = date(2026, 11, 25)  # a Wednesday, ISO week 2026-W48


def policy(pid: str = "p-1", **kw: Any) -> Policy:
    crit = {k: kw.pop(k) for k in list(kw) if k in Criteria.__dataclass_fields__}
    for k, v in list(crit.items()):
        if isinstance(v, list):
            crit[k] = tuple(v)
    base: dict[str, Any] = {
        "title": f"政策 {pid}", "issuer": "肇庆市示例局", "summary": "示例摘要",
        "published": date(2026, 1, 1), "valid_from": date(2026, 1, 1), "topics": ("融资",),
    }
    base.update(kw)
    return Policy(id=pid, criteria=Criteria(**crit), **base)


def profile(**kw: Any) -> Profile:
    base: dict[str, Any] = {
        "enterprise_id": 1, "name": "肇庆示例精密制造有限公司", "industry": "C", "scale": "小型",
        "district": "端州区", "tags": ("高新技术企业",), "founded_year": 2016, "business": "精密五金加工",
    }
    base.update(kw)
    return Profile(**base)
