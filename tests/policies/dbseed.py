"""Rows for policy tests that need a database: enterprises, their users, past appeals."""

from __future__ import annotations

import json
from typing import Any

from sqlite_utils import Database

NOW = "2026-11-25T01:00:00+00:00"


def add_enterprise(db: Database, eid: int, user_id: int | None = None, **kw: Any) -> int:
    """One enterprise (industry C, 小型, 端州区 unless told) owned by an active enterprise user."""
    user_id = user_id if user_id is not None else eid * 100
    row = {"id": eid, "name": f"示例企业{eid}", "credit_code": f"CODE{eid:014d}", "industry": "C",
           "scale": "小型", "district": "端州区", "tags": json.dumps(kw.pop("tags", []), ensure_ascii=False),
           "founded_year": 2016, "business": "精密五金加工", "owner_id": user_id, "created_at": NOW}
    row.update(kw)
    db.table("enterprises").insert(row)
    add_user(db, user_id, eid)
    return user_id


def add_user(db: Database, user_id: int, eid: int, lang: str = "zh-CN") -> None:
    db.table("users").insert({"id": user_id, "name": f"u{user_id}", "lang": lang, "role": "enterprise",
                              "enterprise_id": eid, "active": 1, "created_at": NOW})


def add_appeal(db: Database, eid: int, user_id: int, text: str) -> None:
    n = db.execute("SELECT COUNT(*) FROM appeals").fetchone()[0] + 1
    db.table("appeals").insert({"number": f"ZQ-{n}", "enterprise_id": eid, "user_id": user_id, "text": text,
                                "status": "submitted", "created_at": NOW, "updated_at": NOW})
