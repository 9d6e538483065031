"""The SQLite implementation of the domain's Repository port (people, enterprises, appeals)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from appeals.lifecycle import Status
from appeals.model import Appeal, AppealEvent, Attachment, Enterprise
from appeals.ports import CategoryScore, Entity, UserRecord
from appeals.staff import SOURCE_INVITE, AuditEntry, Invite, StaffMember
from storage.db import utc_text

CENTER_TZ = ZoneInfo("Asia/Shanghai")


def _ts(value: datetime | None) -> str | None:
    return utc_text(value) if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None




class SqliteRepository:
    """Sync and explicit: run it on the single writer thread (``storage.db.Writer``)."""

    def __init__(self, db: Database, appeal_prefix: str = "ZQ", tz: tzinfo = CENTER_TZ) -> None:
        self.db = db
        self.prefix = appeal_prefix
        self.tz = tz  # appeal numbers count per day of the center's calendar
        self._last_event_id: int | None = None

    def transaction(self) -> AbstractContextManager[object]:
        """One transaction around several writes (the write methods inside become savepoints)."""
        return self.db.atomic()

    def last_event_id(self) -> int | None:
        """The id of the appeal_events row this repository inserted last."""
        return self._last_event_id

    # ---- departments ------------------------------------------------------------------------
    def sync_departments(self, departments: dict[str, str]) -> None:
        with self.db.atomic():
            for dept_id, name in departments.items():
                self.db.execute(
                    "INSERT INTO departments (id, name) VALUES (?, ?) "
                    "ON CONFLICT(id) DO UPDATE SET name = excluded.name", [dept_id, name])

    def department_name(self, dept_id: str | None) -> str:
        row = self._one("SELECT name FROM departments WHERE id = ?", [dept_id])
        return str(row["name"]) if row else ""

    # ---- people -------------------------------------------------------------------------------
    def get_user(self, user_id: int) -> UserRecord | None:
        row = self._one("SELECT * FROM users WHERE id = ?", [user_id])
        return self._user(row) if row else None

    def ensure_user(self, user_id: int, name: str, lang: str, now: datetime) -> UserRecord:
        # Writing again means the user unblocked the bot; a removed staff member stays inactive.
        self.db.execute(
            "INSERT INTO users (id, name, lang, active, created_at) VALUES (?, ?, ?, 1, ?) "
            "ON CONFLICT(id) DO UPDATE SET active = CASE WHEN removed_at IS NULL THEN 1 ELSE active END",
            [user_id, name, lang, _ts(now)])
        if user_id > 0:
            self.db.execute("INSERT OR IGNORE INTO user_identities (channel, external_id, user_id, created_at) "
                            "VALUES ('telegram', ?, ?, ?)", [str(user_id), user_id, _ts(now)])
        user = self.get_user(user_id)
        assert user is not None
        return user

    def set_user(self, user_id: int, **fields: object) -> None:
        if fields:
            cols = ", ".join(f"[{k}] = ?" for k in fields)
            self.db.execute(f"UPDATE users SET {cols} WHERE id = ?", [*fields.values(), user_id])

    def user_ids(self, role: str, department_id: str | None = None) -> list[int]:
        sql = "SELECT id FROM users WHERE role = ? AND active = 1"
        params: list[Any] = [role]
        if department_id is not None:
            sql += " AND department_id = ?"
            params.append(department_id)
        return [int(r["id"]) for r in self.db.query(sql + " ORDER BY id", params)]

    def enterprise_user_ids(self, enterprise_id: int) -> list[int]:
        rows = self.db.query(
            "SELECT id FROM users WHERE enterprise_id = ? AND role = 'enterprise' AND active = 1 ORDER BY id",
            [enterprise_id])
        return [int(r["id"]) for r in rows]

    @staticmethod
    def _user(row: dict[str, Any]) -> UserRecord:
        return UserRecord(
            id=row["id"], name=row["name"] or "", lang=row["lang"] or "zh-CN", role=row["role"],
            enterprise_id=row["enterprise_id"], department_id=row["department_id"], active=bool(row["active"]),
        )

    # ---- enterprises --------------------------------------------------------------------------
    def get_enterprise(self, enterprise_id: int) -> Enterprise | None:
        row = self._one("SELECT * FROM enterprises WHERE id = ?", [enterprise_id])
        return self._enterprise(row) if row else None

    def find_enterprise(self, credit_code: str) -> Enterprise | None:
        row = self._one("SELECT * FROM enterprises WHERE credit_code = ?", [credit_code])
        return self._enterprise(row) if row else None

    def create_enterprise(self, draft: dict[str, object], owner_id: int, now: datetime) -> Enterprise:
        with self.db.atomic():
            cur = self.db.execute(
                "INSERT INTO enterprises (name, credit_code, contact, phone, industry, scale, district, "
                "owner_id, created_at) VALUES (:name, :credit_code, :contact, :phone, :industry, :scale, "
                ":district, :owner_id, :created_at)",
                {**draft, "owner_id": owner_id, "created_at": _ts(now)})
            enterprise_id = cur.lastrowid
            self.db.execute("UPDATE users SET role = 'enterprise', enterprise_id = ?, active = 1, "
                            "removed_at = NULL WHERE id = ?", [enterprise_id, owner_id])
        found = self.get_enterprise(int(enterprise_id or 0))
        assert found is not None
        return found

    def create_unverified_enterprise(self, draft: dict[str, object], now: datetime) -> Enterprise:
        """An enterprise known only by what a partner or a dispatcher said: no owner until the center confirms."""
        cur = self.db.execute(
            "INSERT INTO enterprises (name, credit_code, contact, phone, verified, created_at) "
            "VALUES (:name, :credit_code, :contact, :phone, 0, :created_at)", {**draft, "created_at": _ts(now)})
        found = self.get_enterprise(int(cur.lastrowid or 0))
        assert found is not None
        return found

    def verify_enterprise(self, enterprise_id: int) -> None:
        self.db.execute("UPDATE enterprises SET verified = 1 WHERE id = ?", [enterprise_id])

    # ---- identities per channel ------------------------------------------------------------------
    def identity_user(self, channel: str, external_id: str, name: str, now: datetime) -> int:
        """The user behind ``(channel, external_id)``, created on first sight.

        Telegram users keep their Telegram id as user id; people and systems of other channels get
        negative ids, which no Telegram account can have.
        """
        row = self._one("SELECT user_id FROM user_identities WHERE channel = ? AND external_id = ?",
                        [channel, external_id])
        if row:
            return int(row["user_id"])
        with self.db.atomic():
            if channel == "telegram":
                user_id = int(external_id)
            else:
                low = self._one("SELECT MIN(id) AS m FROM users", [])
                user_id = min(int(low["m"] or 0) if low else 0, 0) - 1
            self.db.execute("INSERT OR IGNORE INTO users (id, name, lang, active, created_at) "
                            "VALUES (?, ?, 'zh-CN', 1, ?)", [user_id, name, _ts(now)])
            self.db.execute("INSERT INTO user_identities (channel, external_id, user_id, created_at) "
                            "VALUES (?, ?, ?, ?)", [channel, external_id, user_id, _ts(now)])
        return user_id

    @staticmethod
    def _enterprise(row: dict[str, Any]) -> Enterprise:
        return Enterprise(
            id=row["id"], name=row["name"], credit_code=row["credit_code"], contact=row["contact"] or "",
            phone=row["phone"] or "", industry=row["industry"] or "", scale=row["scale"] or "",
            district=row["district"] or "", owner_id=row["owner_id"] or 0,
            tags=tuple(json.loads(row["tags"] or "[]")), founded_year=row["founded_year"],
            business=row["business"] or "", verified=bool(row.get("verified", 1)),
        )

    def create_claim(self, enterprise_id: int, user_id: int, now: datetime) -> int:
        pending = self._one("SELECT id FROM claims WHERE enterprise_id = ? AND user_id = ? AND status = 'pending'",
                            [enterprise_id, user_id])
        if pending:
            return int(pending["id"])
        cur = self.db.execute(
            "INSERT INTO claims (enterprise_id, user_id, status, created_at) VALUES (?, ?, 'pending', ?)",
            [enterprise_id, user_id, _ts(now)])
        return int(cur.lastrowid or 0)

    def pending_claim(self, user_id: int) -> dict[str, object] | None:
        return self._one("SELECT * FROM claims WHERE user_id = ? AND status = 'pending' ORDER BY id DESC", [user_id])

    def get_claim(self, claim_id: int) -> dict[str, object] | None:
        return self._one("SELECT * FROM claims WHERE id = ?", [claim_id])

    def decide_claim(self, claim_id: int, approved: bool, by: int, now: datetime) -> None:
        with self.db.atomic():
            self.db.execute("UPDATE claims SET status = ?, decided_by = ?, decided_at = ? WHERE id = ?",
                            ["approved" if approved else "denied", by, _ts(now), claim_id])
            if approved:
                self.db.execute(
                    "UPDATE users SET role = 'enterprise', enterprise_id = "
                    "(SELECT enterprise_id FROM claims WHERE id = ?) "
                    "WHERE id = (SELECT user_id FROM claims WHERE id = ?)", [claim_id, claim_id])

    # ---- staff invites, members and their audit log ----------------------------------------------
    def create_invite(self, code: str, role: str, department_id: str | None, by: str, now: datetime,
                      expires_at: datetime | None = None) -> None:
        self.db.execute(
            "INSERT INTO invites (code, role, department_id, created_by, created_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?)", [code, role, department_id, by, _ts(now), _ts(expires_at)])

    def use_invite(self, code: str, user_id: int, now: datetime) -> dict[str, object] | None:
        """Mark the invite used and make the user staff, in one transaction; None if unknown, used,
        revoked or expired."""
        with self.db.atomic():
            invite = self._one("SELECT * FROM invites WHERE code = ? AND used_by IS NULL AND revoked_at IS NULL",
                               [code])
            expires = _dt(invite["expires_at"]) if invite else None
            if invite is None or expires is None or expires <= now:
                return None
            self.db.execute("UPDATE invites SET used_by = ?, used_at = ? WHERE code = ?", [user_id, _ts(now), code])
            self.db.execute(
                "UPDATE users SET role = ?, department_id = ?, enterprise_id = NULL, role_source = ?, "
                "removed_at = NULL, active = 1 WHERE id = ?",
                [invite["role"], invite["department_id"], SOURCE_INVITE, user_id])
            self._audit(AuditEntry(now, f"user:{user_id}", user_id, "join",
                                   f"{invite['role']}/{invite['department_id'] or '-'} invite {code[:3]}… "
                                   f"by {invite['created_by']}"))
        return invite

    def invites(self) -> list[Invite]:
        return [
            Invite(r["code"], r["role"], r["department_id"], r["created_by"] or "",
                   _dt(r["created_at"]) or datetime.now(UTC), _dt(r["expires_at"]), r["used_by"],
                   _dt(r["revoked_at"]))
            for r in self.db.query("SELECT * FROM invites ORDER BY created_at DESC")
        ]

    def revoke_invite(self, code: str, now: datetime, entry: AuditEntry) -> bool:
        """Revoke an unused invite; False when no such open invite exists."""
        with self.db.atomic():
            cur = self.db.execute("UPDATE invites SET revoked_at = ? WHERE code = ? AND used_by IS NULL "
                                  "AND revoked_at IS NULL", [_ts(now), code])
            if not cur.rowcount:
                return False
            self._audit(entry)
        return True

    def staff(self) -> list[StaffMember]:
        rows = self.db.query(
            "SELECT * FROM users WHERE role IN ('handler', 'dispatcher', 'supervisor') OR removed_at IS NOT NULL "
            "OR role_source IS NOT NULL ORDER BY role IS NULL, role, department_id, id")
        return [self._member(r) for r in rows]

    def staff_member(self, user_id: int) -> StaffMember | None:
        row = self._one("SELECT * FROM users WHERE id = ?", [user_id])
        return self._member(row) if row else None

    def change_staff(self, user_id: int, *, role: str | None, department_id: str | None, source: str | None,
                     removed_at: datetime | None, entry: AuditEntry) -> None:
        """Set a member's role (None: no role) with its audit row, in one transaction.

        A user who never wrote to the bot (a bootstrap supervisor) gets a row first.
        """
        active = 0 if removed_at is not None else 1
        with self.db.atomic():
            self.db.execute("INSERT OR IGNORE INTO users (id, name, lang, active, created_at) "
                            "VALUES (?, '', 'zh-CN', 1, ?)", [user_id, _ts(entry.at)])
            self.db.execute(
                "UPDATE users SET role = ?, department_id = ?, enterprise_id = NULL, role_source = ?, "
                "removed_at = ?, active = ? WHERE id = ?",
                [role, department_id, source, _ts(removed_at), active, user_id])
            self._audit(entry)

    def audit(self, entry: AuditEntry) -> None:
        self._audit(entry)

    def _audit(self, e: AuditEntry) -> None:
        self.db.execute("INSERT INTO staff_audit (at, by, user_id, action, detail) VALUES (?, ?, ?, ?, ?)",
                        [_ts(e.at), e.by, e.user_id, e.action, e.detail])

    def audit_log(self, user_id: int | None = None, limit: int = 100) -> list[AuditEntry]:
        where, params = ("WHERE user_id = ?", [user_id]) if user_id is not None else ("", [])
        rows = self.db.query(f"SELECT * FROM staff_audit {where} ORDER BY id DESC LIMIT ?", [*params, limit])
        return [AuditEntry(_dt(r["at"]) or datetime.now(UTC), r["by"], r["user_id"], r["action"], r["detail"] or "")
                for r in rows]

    def held_by(self, user_id: int, statuses: frozenset[Status]) -> list[Appeal]:
        """Open appeals whose latest 签收 was this user's (their personal work in progress)."""
        marks = ", ".join("?" for _ in statuses)
        rows = self.db.query(
            f"SELECT a.* FROM appeals a WHERE a.status IN ({marks}) AND ? = ("
            "SELECT e.actor_id FROM appeal_events e WHERE e.appeal_id = a.id AND e.action = 'accept' "
            "ORDER BY e.id DESC LIMIT 1) ORDER BY a.id", [*sorted(s.value for s in statuses), user_id])
        return [self._appeal(r) for r in rows]

    @staticmethod
    def _member(r: dict[str, Any]) -> StaffMember:
        return StaffMember(id=r["id"], name=r["name"] or "", role=r["role"], department_id=r["department_id"],
                           active=bool(r["active"]), joined=_dt(r["created_at"]), removed_at=_dt(r["removed_at"]),
                           source=r["role_source"])

    # ---- appeals -------------------------------------------------------------------------------
    def create_appeal(self, appeal: Appeal, events: list[AppealEvent], source_update_id: int | None,
                      idempotency_key: str | None = None) -> Appeal:
        """Insert the appeal, its number, attachments and first events in one transaction.

        ``idempotency_key`` is channel-neutral (``telegram:<update id>``, ``open311:<key id>:<token>``);
        a Telegram update id alone gives ``telegram:<id>``.
        """
        if idempotency_key is None and source_update_id is not None:
            idempotency_key = f"telegram:{source_update_id}"
        with self.db.atomic():
            day = appeal.created_at.astimezone(self.tz).strftime("%Y%m%d")
            prefix = f"{self.prefix}{day}-"
            # one counter row per day, bumped in this transaction: no scan of the day's appeals
            last = self.db.execute(
                "INSERT INTO appeal_counters (day, last) VALUES (?, 1) "
                "ON CONFLICT(day) DO UPDATE SET last = last + 1 RETURNING last", [prefix]).fetchone()[0]
            number = f"{prefix}{int(last):04d}"
            values = self._appeal_row(appeal)
            values.update(number=number, source_update_id=source_update_id, idempotency_key=idempotency_key)
            del values["id"]
            cols = ", ".join(f"[{k}]" for k in values)
            marks = ", ".join("?" for _ in values)
            cur = self.db.execute(f"INSERT INTO appeals ({cols}) VALUES ({marks})", list(values.values()))
            appeal_id = int(cur.lastrowid or 0)
            self._insert_attachments(appeal_id, appeal.attachments, appeal.created_at)
            for ev in events:
                self._insert_event(ev, appeal_id)
        saved = self.get_appeal(appeal_id)
        assert saved is not None
        return saved

    def add_attachments(self, appeal_id: int, attachments: Iterable[Attachment], now: datetime,
                        event: AppealEvent | None = None) -> None:
        """Files added to an appeal later, with the history row that records them, in one transaction."""
        with self.db.atomic():
            self._insert_attachments(appeal_id, attachments, now)
            if event is not None:
                self._insert_event(event, appeal_id)

    def _insert_attachments(self, appeal_id: int, attachments: Iterable[Attachment], now: datetime) -> None:
        for att in attachments:
            self.db.execute(
                "INSERT INTO attachments (appeal_id, kind, file_id, file_name, created_at) VALUES (?, ?, ?, ?, ?)",
                [appeal_id, att.kind, att.file_id, att.file_name, _ts(now)])

    def find_by_update(self, update_id: int) -> Appeal | None:
        row = self._one("SELECT * FROM appeals WHERE source_update_id = ?", [update_id])
        return self._appeal(row) if row else None

    def find_by_key(self, idempotency_key: str) -> Appeal | None:
        row = self._one("SELECT * FROM appeals WHERE idempotency_key = ?", [idempotency_key])
        return self._appeal(row) if row else None

    def get_appeal(self, appeal_id: int) -> Appeal | None:
        row = self._one("SELECT * FROM appeals WHERE id = ?", [appeal_id])
        return self._appeal(row) if row else None

    def find_appeal(self, number: str) -> Appeal | None:
        row = self._one("SELECT * FROM appeals WHERE number = ?", [number])
        return self._appeal(row) if row else None

    def save(self, appeal: Appeal, event: AppealEvent, feedback: tuple[str, str] | None = None) -> Appeal:
        """Update the appeal and append its event (and a training-feedback row) in one transaction."""
        values = self._appeal_row(appeal)
        values["updated_at"] = _ts(event.at)
        for key in ("id", "number", "enterprise_id", "user_id", "text", "created_at"):
            values.pop(key)
        with self.db.atomic():
            cols = ", ".join(f"[{k}] = ?" for k in values)
            self.db.execute(f"UPDATE appeals SET {cols} WHERE id = ?", [*values.values(), appeal.id])
            self._insert_event(event, appeal.id)
            if feedback is not None:
                source, category = feedback
                self.db.execute(
                    "INSERT INTO feedback (appeal_id, text, category, source, created_at) VALUES (?, ?, ?, ?, ?)",
                    [appeal.id, appeal.text, category, source, _ts(event.at)])
        saved = self.get_appeal(appeal.id)
        assert saved is not None
        return saved

    def add_event(self, event: AppealEvent) -> None:
        with self.db.atomic():
            self._insert_event(event, event.appeal_id)
            self.db.execute("UPDATE appeals SET updated_at = ? WHERE id = ?", [_ts(event.at), event.appeal_id])

    def events(self, appeal_id: int) -> list[AppealEvent]:
        rows = self.db.query("SELECT * FROM appeal_events WHERE appeal_id = ? ORDER BY id", [appeal_id])
        return [
            AppealEvent(
                appeal_id=r["appeal_id"], at=_dt(r["at"]) or datetime.now(UTC), actor_id=r["actor_id"],
                actor_role=r["actor_role"] or "", action=r["action"], from_status=r["from_status"],
                to_status=r["to_status"], note=r["note"] or "", internal=bool(r["internal"]),
            )
            for r in rows
        ]

    def last_supervised(self, appeal_ids: list[int]) -> dict[int, datetime]:
        """When each of these appeals was last urged (督办), for those ever urged."""
        out: dict[int, datetime] = {}
        for chunk in range(0, len(appeal_ids), 500):
            ids = appeal_ids[chunk:chunk + 500]
            for r in self.db.query(
                    f"SELECT appeal_id, at FROM appeal_events WHERE action = 'supervise' "
                    f"AND appeal_id IN ({', '.join('?' for _ in ids)})", ids):
                at = datetime.fromisoformat(r["at"])
                if r["appeal_id"] not in out or at > out[r["appeal_id"]]:
                    out[r["appeal_id"]] = at
        return out

    def list_appeals(
        self, *, enterprise_id: int | None = None, department_id: str | None = None,
        statuses: frozenset[Status] | None = None, limit: int = 50, since: datetime | None = None,
    ) -> list[Appeal]:
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        if since is not None:
            where.append("julianday(created_at) >= julianday(?)")
            params.append(_ts(since))
        if enterprise_id is not None:
            where.append("enterprise_id = ?")
            params.append(enterprise_id)
        if department_id is not None:
            where.append("department_id = ?")
            params.append(department_id)
        if statuses is not None:
            where.append(f"status IN ({', '.join('?' for _ in statuses)})")
            params.extend(sorted(s.value for s in statuses))
        sql = f"SELECT * FROM appeals WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?"
        return [self._appeal(r) for r in self.db.query(sql, [*params, limit])]

    def enterprise_names(self, ids: Iterable[int]) -> dict[int, str]:
        wanted = sorted(set(ids))
        if not wanted:
            return {}
        marks = ", ".join("?" for _ in wanted)
        return {r["id"]: r["name"] for r in self.db.query(f"SELECT id, name FROM enterprises WHERE id IN ({marks})",
                                                            wanted)}

    def feedback_examples(self) -> list[tuple[str, str, str]]:
        """(text, category, source) of every correction, dispatch and re-dispatch after a return."""
        rows = self.db.query("SELECT text, category, source FROM feedback ORDER BY id")
        return [(r["text"], r["category"], r["source"]) for r in rows]

    # ---- mapping ----------------------------------------------------------------------------------
    def _one(self, sql: str, params: list[Any]) -> dict[str, Any] | None:
        # a plain SELECT: db.query() would wrap it in a SAVEPOINT and RELEASE (three statements per read)
        cur = self.db.execute(sql, params)
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row, strict=True)) if row is not None else None

    def _insert_event(self, ev: AppealEvent, appeal_id: int) -> None:
        cur = self.db.execute(
            "INSERT INTO appeal_events (appeal_id, at, actor_id, actor_role, action, from_status, to_status, "
            "note, internal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [appeal_id, _ts(ev.at), ev.actor_id, ev.actor_role, ev.action, ev.from_status, ev.to_status,
             ev.note, int(ev.internal)])
        self._last_event_id = cur.lastrowid

    @staticmethod
    def _appeal_row(a: Appeal) -> dict[str, Any]:
        return {
            "id": a.id, "number": a.number, "enterprise_id": a.enterprise_id, "user_id": a.user_id,
            "text": a.text, "category": a.category, "confidence": a.confidence,
            "ranking": json.dumps([[s.category, round(s.confidence, 4)] for s in a.ranking]),
            "entities": json.dumps([[e.label, e.text, e.start, e.end, e.value] for e in a.entities],
                                   ensure_ascii=False),
            "department_id": a.department_id, "status": a.status.value, "created_at": _ts(a.created_at),
            "updated_at": _ts(a.created_at), "dispatched_at": _ts(a.dispatched_at),
            "accept_due": _ts(a.accept_due), "reply_due": _ts(a.reply_due), "replied_at": _ts(a.replied_at),
            "rating_due": _ts(a.rating_due), "extension_status": a.extension_status,
            "extension_days": a.extension_days, "extension_reason": a.extension_reason, "rating": a.rating,
            "rated_at": _ts(a.rated_at), "reopen_count": a.reopen_count, "closed_at": _ts(a.closed_at),
            "alert_level": a.alert_level, "accepted_at": _ts(a.accepted_at), "return_count": a.return_count,
            "channel": a.channel,
        }

    def _appeal(self, r: dict[str, Any]) -> Appeal:
        attachments = tuple(
            Attachment(kind=x["kind"], file_id=x["file_id"], file_name=x["file_name"] or "")
            for x in self.db.query("SELECT * FROM attachments WHERE appeal_id = ? ORDER BY id", [r["id"]])
        )
        return Appeal(
            id=r["id"], number=r["number"], enterprise_id=r["enterprise_id"], user_id=r["user_id"], text=r["text"],
            status=Status(r["status"]), created_at=_dt(r["created_at"]) or datetime.now(UTC),
            category=r["category"], confidence=r["confidence"],
            ranking=tuple(CategoryScore(c, float(p)) for c, p in json.loads(r["ranking"] or "[]")),
            entities=tuple(Entity(*e) for e in json.loads(r["entities"] or "[]")),
            department_id=r["department_id"], dispatched_at=_dt(r["dispatched_at"]),
            accept_due=_dt(r["accept_due"]), reply_due=_dt(r["reply_due"]), replied_at=_dt(r["replied_at"]),
            rating_due=_dt(r["rating_due"]), extension_status=r["extension_status"],
            extension_days=r["extension_days"], extension_reason=r["extension_reason"], rating=r["rating"],
            rated_at=_dt(r["rated_at"]), reopen_count=r["reopen_count"] or 0, closed_at=_dt(r["closed_at"]),
            alert_level=r["alert_level"], attachments=attachments, accepted_at=_dt(r["accepted_at"]),
            return_count=r["return_count"] or 0, channel=r["channel"] or "telegram",
        )
