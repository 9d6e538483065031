"""SQLite storage of the policy catalogue, digest subscriptions and the profiles matching reads."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Any

from sqlite_utils import Database

from policies.model import Criteria, Policy, Profile, Recipient, Subscription

APPEALS_PER_PROFILE = 20  # the most recent appeal texts feed keyword relevance


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _policy_row(p: Policy, source: str, now: datetime) -> dict[str, Any]:
    return {
        "id": p.id, "title": p.title, "issuer": p.issuer, "doc_number": p.doc_number, "url": p.url,
        "summary": p.summary, "published": p.published.isoformat(), "valid_from": p.valid_from.isoformat(),
        "valid_until": p.valid_until.isoformat() if p.valid_until else None,
        "deadline": p.deadline.isoformat() if p.deadline else None,
        "topics": json.dumps(list(p.topics), ensure_ascii=False),
        "criteria": json.dumps({k: list(v) if isinstance(v, tuple) else v
                                for k, v in asdict(p.criteria).items()}, ensure_ascii=False),
        "sample": int(p.sample), "source": source, "updated_at": now.astimezone(UTC).isoformat(),
    }


def _policy(row: dict[str, Any]) -> Policy:
    c = json.loads(row["criteria"])
    criteria = Criteria(
        industries=tuple(c.get("industries", ())), scales=tuple(c.get("scales", ())),
        districts=tuple(c.get("districts", ())), tags=tuple(c.get("tags", ())),
        founded_min_years=c.get("founded_min_years"), founded_max_years=c.get("founded_max_years"),
        keywords=tuple(c.get("keywords", ())))
    published, valid_from = _day(row["published"]), _day(row["valid_from"])
    assert published is not None and valid_from is not None
    return Policy(
        id=row["id"], title=row["title"], issuer=row["issuer"], summary=row["summary"],
        published=published, valid_from=valid_from, valid_until=_day(row["valid_until"]),
        deadline=_day(row["deadline"]), doc_number=row["doc_number"], url=row["url"],
        topics=tuple(json.loads(row["topics"])), criteria=criteria, sample=bool(row["sample"]),
    )


def _content(p: Policy) -> Policy:
    from dataclasses import replace

    return replace(p, sample=False)


class PolicyRepository:
    """Sync repository; run it on the single writer thread (``storage.db.Writer``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ---- catalogue ------------------------------------------------------------------------------
    def upsert_policies(self, policies: Iterable[Policy], source: str, now: datetime) -> dict[str, list[str]]:
        """Insert new and update changed policies in one transaction; returns ids by outcome."""
        existing = self.policy_map()
        out: dict[str, list[str]] = {"added": [], "changed": [], "unchanged": []}
        with self.db.atomic():
            for p in policies:
                old = existing.get(p.id)
                if old is not None and _content(old) == _content(p):
                    out["unchanged"].append(p.id)
                    continue
                out["added" if old is None else "changed"].append(p.id)
                row = _policy_row(p, source, now)
                cols = ", ".join(f"[{k}]" for k in row)
                sets = ", ".join(f"[{k}] = excluded.[{k}]" for k in row if k != "id")
                self.db.execute(
                    f"INSERT INTO policies ({cols}) VALUES ({', '.join('?' * len(row))}) "
                    f"ON CONFLICT(id) DO UPDATE SET {sets}", list(row.values()))
        return out

    def remove_missing(self, source: str, keep: set[str]) -> list[str]:
        """Delete policies that came from ``source`` but are no longer in it (e.g. dropped from the YAML)."""
        gone = [r["id"] for r in self.db.query("SELECT id FROM policies WHERE source = ?", [source])
                if r["id"] not in keep]
        with self.db.atomic():
            for pid in gone:
                self.db.execute("DELETE FROM policies WHERE id = ?", [pid])
        return gone

    def catalogue_version(self) -> str:
        """Changes whenever a policy is added, changed or removed (another process may import)."""
        count, latest = self.db.execute("SELECT COUNT(*), MAX(updated_at) FROM policies").fetchone()
        return f"{count}:{latest}"

    def all_policies(self) -> list[Policy]:
        return [_policy(r) for r in self.db.query("SELECT * FROM policies ORDER BY id")]

    def policy_map(self) -> dict[str, Policy]:
        return {p.id: p for p in self.all_policies()}

    def get_policy(self, policy_id: str) -> Policy | None:
        rows = list(self.db.query("SELECT * FROM policies WHERE id = ?", [policy_id]))
        return _policy(rows[0]) if rows else None

    # ---- profiles -------------------------------------------------------------------------------
    def profiles(self, enterprise_ids: Iterable[int] | None = None) -> dict[int, Profile]:
        """Profiles (with recent appeal texts) of the given enterprises, or of all."""
        sql = "SELECT id, name, industry, scale, district, tags, founded_year, business FROM enterprises"
        params: list[Any] = []
        if enterprise_ids is not None:
            ids = sorted(set(enterprise_ids))
            if not ids:
                return {}
            sql += f" WHERE id IN ({', '.join('?' * len(ids))})"
            params = list(ids)
        texts: dict[int, list[str]] = {}
        appeals_sql = (
            "SELECT enterprise_id, text FROM (SELECT enterprise_id, text, ROW_NUMBER() OVER "
            "(PARTITION BY enterprise_id ORDER BY id DESC) AS n FROM appeals"
            + (f" WHERE enterprise_id IN ({', '.join('?' * len(params))})" if params else "")
            + ") WHERE n <= ?")
        for r in self.db.query(appeals_sql, [*params, APPEALS_PER_PROFILE]):
            texts.setdefault(int(r["enterprise_id"]), []).append(str(r["text"]))
        out: dict[int, Profile] = {}
        for r in self.db.query(sql, params):
            eid = int(r["id"])
            out[eid] = Profile(
                enterprise_id=eid, name=r["name"] or "", industry=r["industry"] or None,
                scale=r["scale"] or None, district=r["district"] or None,
                tags=tuple(json.loads(r["tags"] or "[]")), founded_year=r["founded_year"],
                business=r["business"] or "", appeal_texts=tuple(texts.get(eid, ())))
        return out

    def profile(self, enterprise_id: int) -> Profile | None:
        return self.profiles([enterprise_id]).get(enterprise_id)

    def enterprise_id_by_credit_code(self, credit_code: str) -> int | None:
        rows = list(self.db.query("SELECT id FROM enterprises WHERE credit_code = ?", [credit_code.upper()]))
        return int(rows[0]["id"]) if rows else None

    def update_profile(self, enterprise_id: int, *, tags: Iterable[str] | None = None,
                       founded_year: int | None = None, business: str | None = None) -> None:
        """Change the profile fields an enterprise may edit itself."""
        fields: dict[str, Any] = {}
        if tags is not None:
            fields["tags"] = json.dumps(list(tags), ensure_ascii=False)
        if founded_year is not None:
            fields["founded_year"] = founded_year
        if business is not None:
            fields["business"] = business
        if fields:
            cols = ", ".join(f"[{k}] = ?" for k in fields)
            self.db.execute(f"UPDATE enterprises SET {cols} WHERE id = ?", [*fields.values(), enterprise_id])

    # ---- subscriptions and recipients -----------------------------------------------------------
    def subscription(self, user_id: int) -> Subscription:
        """The user's setting; without a row the weekly digest is on for every topic."""
        rows = list(self.db.query("SELECT * FROM subscriptions WHERE user_id = ?", [user_id]))
        if not rows:
            return Subscription(user_id)
        r = rows[0]
        return Subscription(user_id, bool(r["weekly"]), tuple(json.loads(r["topics"] or "[]")),
                            datetime.fromisoformat(r["updated_at"]))

    def save_subscription(self, sub: Subscription, enterprise_id: int | None, now: datetime) -> None:
        self.db.execute(
            "INSERT INTO subscriptions (user_id, enterprise_id, weekly, topics, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_id) DO UPDATE SET enterprise_id = excluded.enterprise_id, "
            "weekly = excluded.weekly, topics = excluded.topics, updated_at = excluded.updated_at",
            [sub.user_id, enterprise_id, int(sub.weekly), json.dumps(list(sub.topics), ensure_ascii=False),
             now.astimezone(UTC).isoformat()])

    def recipients(self) -> list[Recipient]:
        """Active enterprise users whose weekly digest is on."""
        rows = self.db.query(
            "SELECT u.id, u.enterprise_id, u.lang, s.weekly, s.topics, s.updated_at FROM users u "
            "LEFT JOIN subscriptions s ON s.user_id = u.id "
            "WHERE u.role = 'enterprise' AND u.enterprise_id IS NOT NULL AND u.active = 1 "
            "AND COALESCE(s.weekly, 1) = 1 ORDER BY u.id")
        out = []
        for r in rows:
            sub = Subscription(int(r["id"]), True, tuple(json.loads(r["topics"] or "[]")),
                               datetime.fromisoformat(r["updated_at"]) if r["updated_at"] else None)
            out.append(Recipient(int(r["id"]), int(r["enterprise_id"]), r["lang"] or "zh-CN", sub))
        return out

    def mark_inactive(self, user_id: int) -> None:
        """The user blocked the bot: no more pushes until they write to it again."""
        self.db.execute("UPDATE users SET active = 0 WHERE id = ?", [user_id])
