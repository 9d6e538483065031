"""What the web doors keep: partner API keys and their audit, console login links and sessions, and the
console's list queries (search, filters, clocks, digest counts). Secrets are stored only as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from appeals.lifecycle import CLOCK_RUNNING
from storage.db import utc_text

KEY_PREFIX = "wq_"
NONE = "none"  # a list filter's value for "no department / no category"


# When the department answered: the reply, or the closing of an appeal closed without one (appeals.metrics.finished_at)
_FINISHED = "COALESCE(a.replied_at, CASE WHEN a.status = 'closed' THEN a.closed_at END)"
# Late, as the figures count it (appeals.metrics.count_rows): settled after the deadline (the first query: a partial
# index holds exactly those, migration m_web_007), or not settled and the deadline passed at ``now`` (the second: the
# figures' pending index). Each query takes the filing period's bounds and ``now`` (unused by the first).
_SETTLED_LATE = {
    "accept": "accepted_at IS NOT NULL AND julianday(accepted_at) > julianday(accept_due)",
    "reply": f"reply_due IS NOT NULL AND status != 'withdrawn' AND {_FINISHED.replace('a.', '')} IS NOT NULL "
             f"AND julianday({_FINISHED.replace('a.', '')}) > julianday(reply_due)",
    "close": "reply_due IS NOT NULL AND status = 'closed' "
             "AND (julianday(closed_at) <= julianday(reply_due)) IS NOT TRUE",
}
_PENDING_LATE = {
    "accept": "accept_due IS NOT NULL AND accepted_at IS NULL AND julianday(accept_due) < julianday(?)",
    "reply": "reply_due IS NOT NULL AND status != 'withdrawn' AND replied_at IS NULL "
             "AND (status != 'closed' OR closed_at IS NULL) AND julianday(reply_due) < julianday(?)",
    "close": "reply_due IS NOT NULL AND status NOT IN ('closed', 'withdrawn') AND julianday(reply_due) < julianday(?)",
}
# what a list row shows (诉求 and its download)
_LISTED = ("a.id, a.number, a.status, a.category, a.department_id, a.channel, a.created_at, a.accept_due, a.reply_due, "
           "a.dispatched_at, a.replied_at, a.closed_at, a.rating, substr(a.text, 1, 60) AS excerpt, "
           "e.name AS enterprise, e.district, e.verified")
_PERIOD = "julianday(created_at) >= julianday(?) AND julianday(created_at) < julianday(?)"
_EVER = (datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC))


def late_ids(kind: str, low: datetime | None, high: datetime | None, now: datetime,
             equal: dict[str, str] | None = None) -> tuple[str, list[Any]]:
    """SQL (and its parameters) for the ids of the appeals late in ``kind`` filed in [low, high), as of ``now``,
    whose columns have the values of ``equal`` (NONE: no value)."""
    terms = "".join(f" AND {c} IS NULL" if v == NONE else f" AND {c} = ?" for c, v in (equal or {}).items())
    values = [v for v in (equal or {}).values() if v != NONE]
    period = [utc_text(low or _EVER[0]), utc_text(high or _EVER[1]), *values]
    # INDEXED BY: without statistics SQLite would take status = 'closed' (70 % of a year) over the partial index
    return (f"SELECT id FROM appeals INDEXED BY idx_appeals_{kind}_late WHERE {_SETTLED_LATE[kind]} AND {_PERIOD}"
            f"{terms} UNION ALL SELECT id FROM appeals WHERE {_PENDING_LATE[kind]} AND {_PERIOD}{terms}",
            [*period, utc_text(now), *period])


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    prefix: str
    rate_per_minute: int
    created_at: str
    revoked_at: str | None
    last_used_at: str | None


@dataclass(frozen=True, slots=True)
class Session:
    user_id: int
    csrf: str


class WebRepository:
    """Sync, like SqliteRepository: run it on the writer thread."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _one(self, sql: str, params: list[Any]) -> dict[str, Any] | None:
        return next(iter(self.db.query(sql, params)), None)

    # ---- partner API keys ------------------------------------------------------------------------
    def create_key(self, name: str, now: datetime, rate_per_minute: int = 600) -> str:
        """A new key, returned once; only its hash is kept. Raises ValueError if the name is taken."""
        if self._one("SELECT 1 AS x FROM api_keys WHERE name = ?", [name]):
            raise ValueError(f"an API key named {name!r} exists already")
        key = KEY_PREFIX + secrets.token_urlsafe(24)
        self.db.execute(
            "INSERT INTO api_keys (name, key_hash, prefix, rate_per_minute, created_at) VALUES (?, ?, ?, ?, ?)",
            [name, digest(key), key[:8], rate_per_minute, _ts(now)])
        return key

    def keys(self) -> list[ApiKey]:
        return [ApiKey(r["id"], r["name"], r["prefix"], r["rate_per_minute"], r["created_at"], r["revoked_at"],
                       r["last_used_at"]) for r in self.db.query("SELECT * FROM api_keys ORDER BY id")]

    def revoke_key(self, name: str, now: datetime) -> bool:
        cur = self.db.execute("UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                              [_ts(now), name])
        return bool(cur.rowcount)

    def key_for(self, key: str) -> ApiKey | None:
        """The live key matching ``key`` (None if unknown or revoked)."""
        r = self._one("SELECT * FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", [digest(key)])
        if r is None:
            return None
        return ApiKey(r["id"], r["name"], r["prefix"], r["rate_per_minute"], r["created_at"], None,
                      r["last_used_at"])

    def audit(self, now: datetime, key_id: int | None, method: str, path: str, status: int, remote: str,
              appeal_id: int | None = None) -> None:
        self.db.execute(
            "INSERT INTO api_audit (at, key_id, method, path, status, remote, appeal_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [_ts(now), key_id, method, path[:500], status, remote, appeal_id])
        if key_id is not None:
            self.db.execute("UPDATE api_keys SET last_used_at = ? WHERE id = ?", [_ts(now), key_id])

    def audit_rows(self, limit: int = 100) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM api_audit ORDER BY id DESC LIMIT ?", [limit]))

    # ---- console login -----------------------------------------------------------------------------
    def create_login_link(self, user_id: int, now: datetime, minutes: int = 10) -> str:
        token = secrets.token_urlsafe(32)
        self.db.execute(
            "INSERT INTO login_links (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            [digest(token), user_id, _ts(now), _ts(now + timedelta(minutes=minutes))])
        return token

    def use_login_link(self, token: str, now: datetime, hours: int = 12) -> tuple[str, Session] | None:
        """Spend a one-time link: a new session id and its CSRF token, or None (unknown, used or expired)."""
        with self.db.atomic():
            row = self._one("SELECT * FROM login_links WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
                            [digest(token), _ts(now)])
            if row is None:
                return None
            self.db.execute("UPDATE login_links SET used_at = ? WHERE token_hash = ?", [_ts(now), row["token_hash"]])
            session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
            self.db.execute(
                "INSERT INTO web_sessions (id_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                [digest(session_id), row["user_id"], csrf, _ts(now), _ts(now + timedelta(hours=hours))])
        return session_id, Session(int(row["user_id"]), csrf)

    def session(self, session_id: str, now: datetime) -> Session | None:
        row = self._one("SELECT user_id, csrf FROM web_sessions WHERE id_hash = ? AND ended_at IS NULL "
                        "AND expires_at > ?", [digest(session_id), _ts(now)])
        return Session(int(row["user_id"]), row["csrf"]) if row else None

    def end_session(self, session_id: str, now: datetime) -> None:
        self.db.execute("UPDATE web_sessions SET ended_at = ? WHERE id_hash = ?", [_ts(now), digest(session_id)])

    # ---- console queries ---------------------------------------------------------------------------
    def search_appeals(self, *, department_id: str | None = None, status: str | None = None,
                       category: str | None = None, channel: str | None = None, query: str = "",
                       district: str | None = None, ids: list[int] | None = None, urged: bool | None = None,
                       low: datetime | None = None, high: datetime | None = None, late: str | None = None,
                       rating: str | None = None, reopened: bool | None = None, returned: bool | None = None,
                       answered: bool | None = None, now: datetime | None = None, page: int = 1,
                       per_page: int | None = 50) -> tuple[list[dict[str, Any]], int]:
        """One page of appeals (all of them with ``per_page=None``), newest first, with the enterprise's name
        and district; and the total count.

        ``ids`` keeps only those appeals (the ones a light filter chose); ``urged`` those ever urged (督办) or
        never; ``low``/``high`` the filing instants; ``late`` the appeals whose 签收 (accept), 答复 (reply) or
        办结 (close) came after its deadline or has not come and is late at ``now`` — the complement of the
        on-time counts of appeals.metrics (tests/web check both agree). Times are compared as instants.
        """
        where, params = ["1 = 1"], []  # type: tuple[list[str], list[Any]]
        for column, value in (("a.department_id", department_id), ("a.status", status),
                              ("a.category", category), ("a.channel", channel), ("e.district", district)):
            if value == NONE:  # the appeals not yet with a department, or not classified
                where.append(f"{column} IS NULL")
            elif value:
                where.append(f"{column} = ?")
                params.append(value)
        if query:
            where.append("(a.number LIKE ? OR e.name LIKE ? OR e.credit_code = ? OR a.text LIKE ?)")
            like = f"%{query}%"
            params.extend([like, like, query.upper(), like])
        if ids is not None:
            where.append("a.id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(ids))
        if urged is not None:
            where.append(f"a.id {'' if urged else 'NOT '}IN (SELECT appeal_id FROM appeal_events "
                         "WHERE action = 'supervise')")
        if low is not None:
            where.append("julianday(a.created_at) >= julianday(?)")
            params.append(utc_text(low))
        if high is not None:
            where.append("julianday(a.created_at) < julianday(?)")
            params.append(utc_text(high))
        if late:
            equal = {c: v for c, v in (("department_id", department_id), ("status", status),
                                       ("category", category), ("channel", channel)) if v}
            sql, values = late_ids(late, low, high, now or datetime.now(UTC), equal)
            if not (district or query or ids is not None or urged is not None or rating
                    or reopened is not None or returned is not None or answered is not None):
                return self._late_page(sql, values, page, per_page)
            where.append(f"a.id IN ({sql})")
            params.extend(values)
        if rating:
            where.append({"good": "a.rating >= 3", "poor": "a.rating IN (1, 2)", "any": "a.rating IS NOT NULL"}[rating])
        for flag, sql in ((reopened, "a.reopen_count > 0"), (returned, "a.return_count > 0"),
                          (answered, f"{_FINISHED} IS NOT NULL")):
            if flag is not None:
                where.append(sql if flag else f"NOT ({sql})")
        clause = " AND ".join(where)
        joined = "FROM appeals a JOIN enterprises e ON e.id = a.enterprise_id"
        counted = joined if district or query else "FROM appeals a"  # every appeal has its enterprise
        total_row = self._one(f"SELECT COUNT(*) AS n {counted} WHERE {clause}", params)
        limit = "" if per_page is None else " LIMIT ? OFFSET ?"
        paging = [] if per_page is None else [per_page, (max(page, 1) - 1) * per_page]
        rows = list(self.db.query(f"SELECT {_LISTED} {joined} WHERE {clause} ORDER BY a.id DESC{limit}",
                                  [*params, *paging]))
        return rows, int(total_row["n"] if total_row else 0)

    def _late_page(self, late: str, params: list[Any], page: int, per_page: int | None
                   ) -> tuple[list[dict[str, Any]], int]:
        """A list filtered by lateness alone (and what late_ids took in): counted and paged on the late ids, the
        few rows shown joined after (总览's links to the appeals behind a rate)."""
        total = self._one(f"SELECT COUNT(*) AS n FROM ({late})", params)
        limit = "" if per_page is None else " LIMIT ? OFFSET ?"
        paging = [] if per_page is None else [per_page, (max(page, 1) - 1) * per_page]
        rows = list(self.db.query(
            f"SELECT {_LISTED} FROM appeals a JOIN enterprises e ON e.id = a.enterprise_id "
            f"WHERE a.id IN (SELECT id FROM ({late}) ORDER BY id DESC{limit}) ORDER BY a.id DESC",
            [*params, *paging]))
        return rows, int(total["n"] if total else 0)

    def running(self, department_id: str | None = None, district: str | None = None) -> list[dict[str, Any]]:
        """Appeals whose clock runs (of one district's enterprises if given): their clocks only, from the covering
        index idx_appeals_running (超期与督办 words the few it shows with ``running_details``)."""
        marks = ", ".join("?" for _ in CLOCK_RUNNING)
        params: list[Any] = sorted(s.value for s in CLOCK_RUNNING)
        extra = ""
        if department_id:
            extra, params = " AND a.department_id = ?", [*params, department_id]
        if district:
            extra, params = (f"{extra} AND a.enterprise_id IN (SELECT id FROM enterprises WHERE district = ?)",
                             [*params, district])
        return list(self.db.query(
            f"SELECT a.id, a.status, a.category, a.department_id, a.dispatched_at, a.accept_due, a.reply_due, "
            f"a.extension_status FROM appeals a WHERE a.status IN ({marks}){extra}", params))

    def running_details(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """Number, enterprise and extension request of the given appeals, by id."""
        if not ids:
            return {}
        return {r["id"]: r for r in self.db.query(
            "SELECT a.id, a.number, a.extension_days, a.extension_reason, e.name AS enterprise, e.district "
            "FROM appeals a "
            "JOIN enterprises e ON e.id = a.enterprise_id WHERE a.id IN (SELECT value FROM json_each(?))",
            [json.dumps(ids)])}

    def urges(self, ids: list[int] | None = None) -> dict[int, tuple[int, str]]:
        """督办 per appeal: how often, and when last (stored text), for the given appeals (all if None), from the
        partial index idx_events_supervise."""
        sql = "SELECT appeal_id, COUNT(*) AS n, MAX(julianday(at)) AS jd, at FROM appeal_events " \
              "WHERE action = 'supervise'"
        params: list[Any] = []
        if ids is not None:
            if not ids:
                return {}
            sql += " AND appeal_id IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(ids))
        return {r["appeal_id"]: (r["n"], r["at"]) for r in self.db.query(sql + " GROUP BY appeal_id", params)}

    def supervision_history(self, appeal_id: int) -> list[dict[str, Any]]:
        """Every 督办 of one appeal with who gave it (name) and the note, oldest first."""
        return list(self.db.query(
            "SELECT s.at, s.actor_id, s.note, u.name FROM appeal_events s LEFT JOIN users u ON u.id = s.actor_id "
            "WHERE s.action = 'supervise' AND s.appeal_id = ? ORDER BY julianday(s.at), s.id", [appeal_id]))

    def user_names(self, ids: list[int]) -> dict[int, str]:
        if not ids:
            return {}
        return {r["id"]: r["name"] or "" for r in self.db.query(
            "SELECT id, name FROM users WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(ids)])}

    def texts_between(self, low: datetime, high: datetime, department_id: str | None = None, after: int = 0
                      ) -> list[dict[str, Any]]:
        """Appeal texts of a period for the 热点 grouping (shown only to staff); only ids above ``after``."""
        sql = ("SELECT a.id, a.number, a.text, a.enterprise_id, a.department_id, a.status, e.district "
               "FROM appeals a JOIN enterprises e ON e.id = a.enterprise_id WHERE julianday(a.created_at) >= "
               "julianday(?) AND julianday(a.created_at) < julianday(?) AND a.id > ?")
        params: list[Any] = [utc_text(low), utc_text(high), after]
        if department_id:
            sql += " AND a.department_id = ?"
            params.append(department_id)
        cursor = self.db.conn.execute(sql + " ORDER BY a.id", params)  # tuples: 10^4 dicts cost more than the query
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor]

    def filed_version(self, low: datetime, department_id: str | None = None) -> tuple[int, int]:
        """(how many, the highest id) of the appeals filed since ``low``: what 热点 keeps its grouping by."""
        sql = "SELECT COUNT(*) AS n, MAX(id) AS top FROM appeals WHERE julianday(created_at) >= julianday(?)"
        params: list[Any] = [utc_text(low)]
        if department_id:
            sql += " AND department_id = ?"
            params.append(department_id)
        row = self._one(sql, params) or {}
        return int(row.get("n") or 0), int(row.get("top") or 0)

    def open_among(self, ids: list[int]) -> set[int]:
        """Which of these appeals are still open (not closed or withdrawn)."""
        if not ids:
            return set()
        return {r[0] for r in self.db.conn.execute(
            "SELECT id FROM appeals WHERE id IN (SELECT value FROM json_each(?)) "
            "AND status NOT IN ('closed', 'withdrawn')", [json.dumps(ids)])}

    def briefs(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """Status and department of the given appeals (what 热点 shows fresh over a kept grouping)."""
        if not ids:
            return {}
        return {r["id"]: r for r in self.db.query(
            "SELECT a.id, a.status, a.department_id, e.district FROM appeals a JOIN enterprises e "
            "ON e.id = a.enterprise_id WHERE a.id IN (SELECT value FROM json_each(?))", [json.dumps(ids)])}

    def digest_counts(self, weeks: int = 6) -> list[dict[str, Any]]:
        """Weekly digest deliveries per week and status, latest weeks first."""
        return list(self.db.query(
            "SELECT week, status, COUNT(*) AS n FROM outbox WHERE kind = 'digest' AND week IN "
            "(SELECT DISTINCT week FROM outbox WHERE kind = 'digest' AND week IS NOT NULL "
            "ORDER BY week DESC LIMIT ?) GROUP BY week, status ORDER BY week DESC, status", [weeks]))

    def policies(self) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT id, title, issuer, doc_number, valid_from, valid_until, deadline, sample FROM policies "
            "ORDER BY (deadline IS NULL), deadline, id"))

    def open311_requests(self, *, numbers: list[str] | None = None, category: str | None = None,
                         low: datetime | None = None, high: datetime | None = None,
                         statuses: list[str] | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Rows for the partner API's request list (newest first)."""
        where, params = ["1 = 1"], []  # type: tuple[list[str], list[Any]]
        if numbers:
            where.append(f"a.number IN ({', '.join('?' for _ in numbers)})")
            params.extend(numbers)
        if category:
            where.append("a.category = ?")
            params.append(category)
        if low is not None:
            where.append("julianday(a.created_at) >= julianday(?)")
            params.append(utc_text(low))
        if high is not None:
            where.append("julianday(a.created_at) <= julianday(?)")
            params.append(utc_text(high))
        if statuses:
            where.append(f"a.status IN ({', '.join('?' for _ in statuses)})")
            params.extend(statuses)
        return list(self.db.query(
            "SELECT a.id, a.number, a.status, a.category, a.department_id, a.created_at, a.updated_at, "
            "a.accept_due, a.reply_due, a.text, a.user_id, a.channel, e.name AS enterprise, e.credit_code, "
            "e.contact, e.phone, e.district FROM appeals a JOIN enterprises e ON e.id = a.enterprise_id "
            f"WHERE {' AND '.join(where)} ORDER BY a.id DESC LIMIT ?", [*params, limit]))
