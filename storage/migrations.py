"""The schema, built only through sqlite-utils Migrations (applied at every start)."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("wanqi")


@migrations()
def m001_core(db: Database) -> None:
    """Departments, people, enterprises, appeals and their history."""
    db.table("departments").create({"id": str, "name": str}, pk="id", not_null={"name"}, strict=True)
    db.table("enterprises").create(
        {
            "id": int, "name": str, "credit_code": str, "contact": str, "phone": str,
            "industry": str, "scale": str, "district": str, "tags": str, "founded_year": int,
            "business": str, "owner_id": int, "created_at": str,
        },
        pk="id", not_null={"name", "credit_code", "created_at"}, defaults={"tags": "[]"}, strict=True,
    )
    db.table("enterprises").create_index(["credit_code"], unique=True)
    db.table("users").create(
        {
            "id": int, "name": str, "lang": str, "role": str, "enterprise_id": int,
            "department_id": str, "active": int, "created_at": str,
        },
        pk="id", not_null={"created_at"}, defaults={"active": 1},
        foreign_keys=[("enterprise_id", "enterprises", "id"), ("department_id", "departments", "id")],
        strict=True,
    )
    db.table("claims").create(
        {
            "id": int, "enterprise_id": int, "user_id": int, "status": str, "created_at": str,
            "decided_by": int, "decided_at": str,
        },
        pk="id", not_null={"enterprise_id", "user_id", "status", "created_at"},
        foreign_keys=[("enterprise_id", "enterprises", "id"), ("user_id", "users", "id")], strict=True,
    )
    db.table("invites").create(
        {
            "code": str, "role": str, "department_id": str, "created_by": str, "created_at": str,
            "used_by": int, "used_at": str,
        },
        pk="code", not_null={"role", "created_at"},
        foreign_keys=[("department_id", "departments", "id")], strict=True,
    )
    db.table("appeals").create(
        {
            "id": int, "number": str, "enterprise_id": int, "user_id": int, "text": str,
            "category": str, "confidence": float, "ranking": str, "entities": str,
            "department_id": str, "status": str, "created_at": str, "updated_at": str,
            "dispatched_at": str, "accept_due": str, "reply_due": str, "replied_at": str,
            "rating_due": str, "extension_status": str, "extension_days": int, "extension_reason": str,
            "rating": int, "rated_at": str, "reopen_count": int, "closed_at": str,
            "alert_level": str, "source_update_id": int,
        },
        pk="id",
        not_null={"number", "enterprise_id", "user_id", "text", "status", "created_at", "updated_at"},
        defaults={"reopen_count": 0, "ranking": "[]", "entities": "[]"},
        foreign_keys=[
            ("enterprise_id", "enterprises", "id"), ("user_id", "users", "id"),
            ("department_id", "departments", "id"),
        ],
        strict=True,
    )
    db.table("appeals").create_index(["number"], unique=True)
    db.table("appeals").create_index(["source_update_id"], unique=True)
    db.table("appeals").create_index(["department_id", "status"])
    db.table("appeals").create_index(["enterprise_id"])
    db.table("appeal_events").create(
        {
            "id": int, "appeal_id": int, "at": str, "actor_id": int, "actor_role": str,
            "action": str, "from_status": str, "to_status": str, "note": str, "internal": int,
        },
        pk="id", not_null={"appeal_id", "at", "action"}, defaults={"internal": 0},
        foreign_keys=[("appeal_id", "appeals", "id")], strict=True,
    )
    db.table("appeal_events").create_index(["appeal_id"])
    db.table("attachments").create(
        {"id": int, "appeal_id": int, "kind": str, "file_id": str, "file_name": str, "created_at": str},
        pk="id", not_null={"appeal_id", "kind", "file_id", "created_at"},
        foreign_keys=[("appeal_id", "appeals", "id")], strict=True,
    )
    db.table("feedback").create(
        {"id": int, "appeal_id": int, "text": str, "category": str, "source": str, "created_at": str},
        pk="id", not_null={"text", "category", "source", "created_at"},
        foreign_keys=[("appeal_id", "appeals", "id")], strict=True,
    )
    db.table("processed_updates").create({"update_id": int, "at": str}, pk="update_id", strict=True)


# Further migrations are appended below, each as a new function; never edit an applied one.


@migrations()
def m_policies_001(db: Database) -> None:
    """Policy catalogue and weekly-digest subscriptions (a missing subscription row means "on")."""
    db.table("policies").create(
        {
            "id": str, "title": str, "issuer": str, "doc_number": str, "url": str, "summary": str,
            "published": str, "valid_from": str, "valid_until": str, "deadline": str,
            "topics": str, "criteria": str, "sample": int, "source": str, "updated_at": str,
        },
        pk="id",
        not_null={"title", "issuer", "summary", "published", "valid_from", "topics", "criteria", "updated_at"},
        defaults={"sample": 0, "topics": "[]", "criteria": "{}"},
        strict=True,
    )
    db.table("subscriptions").create(
        {"user_id": int, "enterprise_id": int, "weekly": int, "topics": str, "updated_at": str},
        pk="user_id", not_null={"weekly", "updated_at"}, defaults={"weekly": 1, "topics": "[]"},
        foreign_keys=[("user_id", "users", "id"), ("enterprise_id", "enterprises", "id")],
        strict=True,
    )


@migrations()
def m_deliveries_001(db: Database) -> None:
    """Outgoing pushes, one row per delivery key, so each is sent once even across a crash."""
    db.table("deliveries").create(
        {
            "key": str, "kind": str, "chat_id": int, "enterprise_id": int, "text": str, "meta": str,
            "week": str, "status": str, "attempts": int, "error": str, "message_id": int,
            "created_at": str, "updated_at": str, "sent_at": str,
        },
        pk="key", not_null={"kind", "chat_id", "text", "status", "attempts", "created_at", "updated_at"},
        defaults={"status": "queued", "attempts": 0, "meta": "{}"},
        strict=True,
    )
    db.table("deliveries").create_index(["status"])
    db.table("deliveries").create_index(["week", "status"])
    db.table("deliveries").create_index(["enterprise_id", "kind"])


@migrations()
def m_leases_001(db: Database) -> None:
    """Named leases (e.g. "primary"): which process polls, delivers and runs the schedules."""
    db.table("leases").create({"name": str, "holder": str, "expires_at": float}, pk="name",
                              not_null={"holder", "expires_at"}, strict=True)


@migrations()
def m_web_001(db: Database) -> None:
    """Channel-neutral appeals and the web doors: 签收 time and return count for the figures, the channel
    and an idempotency key on appeals, identities per channel, partner API keys and their audit, console
    login links and sessions."""
    appeals = db.table("appeals")
    appeals.add_column("accepted_at", str)
    appeals.add_column("return_count", int, not_null_default=0)
    appeals.add_column("channel", str, not_null_default="telegram")
    appeals.add_column("idempotency_key", str)
    appeals.add_column("api_key_id", int)
    db.execute(
        "UPDATE appeals SET accepted_at = (SELECT MAX(e.at) FROM appeal_events e WHERE e.appeal_id = appeals.id "
        "AND e.action = 'accept') WHERE status IN ('accepted', 'replied', 'closed')")
    db.execute(
        "UPDATE appeals SET return_count = (SELECT COUNT(*) FROM appeal_events e WHERE e.appeal_id = appeals.id "
        "AND e.action = 'return')")
    db.execute("UPDATE appeals SET idempotency_key = 'telegram:' || source_update_id "
               "WHERE source_update_id IS NOT NULL")
    appeals.create_index(["idempotency_key"], unique=True)
    appeals.create_index(["created_at"])
    appeals.create_index(["status"])
    db.table("enterprises").add_column("verified", int, not_null_default=1)
    db.table("user_identities").create(
        {"channel": str, "external_id": str, "user_id": int, "created_at": str},
        pk=("channel", "external_id"), not_null={"user_id", "created_at"},
        foreign_keys=[("user_id", "users", "id")], strict=True,
    )
    db.table("user_identities").create_index(["user_id"])
    db.execute("INSERT INTO user_identities (channel, external_id, user_id, created_at) "
               "SELECT 'telegram', CAST(id AS TEXT), id, created_at FROM users WHERE id > 0")
    db.table("api_keys").create(
        {"id": int, "name": str, "key_hash": str, "prefix": str, "rate_per_minute": int, "created_at": str,
         "revoked_at": str, "last_used_at": str},
        pk="id", not_null={"name", "key_hash", "prefix", "rate_per_minute", "created_at"}, strict=True,
    )
    db.table("api_keys").create_index(["name"], unique=True)
    db.table("api_keys").create_index(["key_hash"], unique=True)
    db.table("api_audit").create(
        {"id": int, "at": str, "key_id": int, "method": str, "path": str, "status": int, "remote": str,
         "appeal_id": int},
        pk="id", not_null={"at", "method", "path", "status"}, strict=True,
    )
    db.table("login_links").create(
        {"token_hash": str, "user_id": int, "created_at": str, "expires_at": str, "used_at": str},
        pk="token_hash", not_null={"user_id", "created_at", "expires_at"},
        foreign_keys=[("user_id", "users", "id")], strict=True,
    )
    db.table("web_sessions").create(
        {"id_hash": str, "user_id": int, "csrf": str, "created_at": str, "expires_at": str, "ended_at": str},
        pk="id_hash", not_null={"user_id", "csrf", "created_at", "expires_at"},
        foreign_keys=[("user_id", "users", "id")], strict=True,
    )


@migrations()
def m_trust_001_staff_lifecycle(db: Database) -> None:
    """Staff removal, where a role came from, expiring and revocable invites, and the staff audit log."""
    from datetime import datetime, timedelta

    db.table("users").add_column("role_source", str)  # env | invite | granted
    db.table("users").add_column("removed_at", str)
    db.table("invites").add_column("expires_at", str)
    db.table("invites").add_column("revoked_at", str)
    db.table("staff_audit").create(
        {"id": int, "at": str, "by": str, "user_id": int, "action": str, "detail": str},
        pk="id", not_null={"at", "by", "action"}, strict=True,
    )
    db.table("staff_audit").create_index(["user_id"])
    # Codes made before expiry existed lapse seven days after they were made (a ten-year-old code must not work).
    for row in list(db.query("SELECT code, created_at FROM invites WHERE expires_at IS NULL")):
        expires = datetime.fromisoformat(row["created_at"]) + timedelta(days=7)
        db.execute("UPDATE invites SET expires_at = ? WHERE code = ?", [expires.isoformat(), row["code"]])
    db.execute("UPDATE users SET role_source = 'invite' WHERE role IN ('handler', 'dispatcher', 'supervisor') "
               "AND id IN (SELECT used_by FROM invites WHERE used_by IS NOT NULL)")
    # Supervisors who never used an invite were seeded from WANQI_SUPERVISORS.
    db.execute("UPDATE users SET role_source = 'env' WHERE role = 'supervisor' AND role_source IS NULL")
    db.execute("UPDATE users SET role_source = 'granted' WHERE role IN ('handler', 'dispatcher') "
               "AND role_source IS NULL")


@migrations()
def m_intake_001(db: Database) -> None:
    """Durable intake: the inbox of received updates, conversation state, chats told we work in private,
    and one counter row per day for appeal numbers (seeded from the numbers already given)."""
    db.table("inbox").create(
        {"update_id": int, "chat_id": int, "raw": str, "received_at": str, "status": str, "attempts": int,
         "error": str, "handled_at": str},
        pk="update_id", not_null={"chat_id", "raw", "received_at", "status", "attempts"},
        defaults={"status": "pending", "attempts": 0}, strict=True,
    )
    db.table("inbox").create_index(["status", "update_id"])
    db.table("fsm").create({"key": str, "state": str, "data": str}, pk="key", not_null={"data"}, strict=True)
    db.table("foreign_chats").create({"chat_id": int, "type": str, "told_at": str}, pk="chat_id",
                                     not_null={"type", "told_at"}, strict=True)
    db.table("appeal_counters").create({"day": str, "last": int}, pk="day", not_null={"last"}, strict=True)
    db.execute(
        "INSERT INTO appeal_counters (day, last) SELECT substr(number, 1, instr(number, '-')), "
        "MAX(CAST(substr(number, instr(number, '-') + 1) AS INTEGER)) FROM appeals GROUP BY 1")


@migrations()
def m_web_002(db: Database) -> None:
    """The figures' period scan reads one covering index instead of 10^5 table rows."""
    db.table("appeals").create_index(
        ["created_at", "department_id", "category", "status", "accept_due", "accepted_at", "reply_due",
         "replied_at", "closed_at", "rating", "reopen_count", "return_count"], index_name="idx_appeals_figures")


@migrations()
def m_outbox_001(db: Database) -> None:
    """One outbox for every outgoing message (it takes over the weekly push's deliveries rows), and the
    last run of each scheduled job (so a job missed while down runs once at start-up, never twice)."""
    db.table("outbox").create(
        {
            "id": int, "created_at": str, "updated_at": str, "chat_id": int, "kind": str, "lang": str,
            "payload": str, "appeal_id": int, "event_id": int, "enterprise_id": int, "week": str,
            "status": str, "attempts": int, "next_attempt_at": float, "last_error": str, "sent_at": str,
            "message_id": int, "dedupe": str,
        },
        pk="id", not_null={"created_at", "updated_at", "chat_id", "kind", "payload", "status", "attempts",
                           "next_attempt_at"},
        defaults={"status": "queued", "attempts": 0, "next_attempt_at": 0.0, "payload": "{}"},
        strict=True,
    )
    db.table("outbox").create_index(["dedupe"], unique=True)
    db.table("outbox").create_index(["status", "id"])
    db.table("outbox").create_index(["chat_id", "status"])
    db.table("outbox").create_index(["enterprise_id", "kind"])
    db.table("outbox").create_index(["week"])
    if db.table("deliveries").exists():
        db.execute(
            "INSERT INTO outbox (created_at, updated_at, chat_id, kind, lang, payload, enterprise_id, week, status, "
            "attempts, next_attempt_at, last_error, sent_at, message_id, dedupe) "
            "SELECT created_at, updated_at, chat_id, kind, 'zh-CN', "
            "json_object('text', text, 'meta', json(COALESCE(meta, '{}'))), enterprise_id, week, status, attempts, "
            "0, error, sent_at, message_id, key FROM deliveries ORDER BY rowid")
        db.table("deliveries").drop()
    db.table("job_runs").create({"job_id": str, "due_at": str, "ran_at": str, "holder": str}, pk="job_id",
                                not_null={"due_at", "ran_at"}, strict=True)


@migrations()
def m_web_003(db: Database) -> None:
    """Who is told (a department's handlers, the supervisors) is looked up for every notice: an index, not a
    scan of every enterprise user (4 ms -> 0.05 ms per step with 20,000 users)."""
    db.table("users").create_index(["role", "department_id"], if_not_exists=True)


@migrations()
def m_intake_002_update_effects(db: Database) -> None:
    """The committed steps of updates in flight (storage/inbox.py ``Steps``): handling again repeats none."""
    db.table("update_effects").create({"update_id": int, "seq": int, "method": str, "result": bytes},
                                      pk=("update_id", "seq"), not_null={"method", "result"}, strict=True)


@migrations()
def m_web_004_figure_counts(db: Database) -> None:
    """总览 reads a year from per-day counts (filing day x answer day x department x category), kept by
    triggers on every write to appeals, instead of re-evaluating 10^5 rows per view (storage/figures.py).

    Days are counted in the center's zone: ``figure_zone`` holds its UTC offset (Asia/Shanghai here; a
    source reading another zone rebuilds the counts). Only what cannot change with the clock is counted;
    the deadlines still running are counted at read time from two partial indexes.
    """
    db.execute("CREATE TABLE figure_zone (offset_seconds INTEGER NOT NULL) STRICT")
    db.execute("INSERT INTO figure_zone (offset_seconds) VALUES (28800)")
    db.execute("""
CREATE VIEW appeal_figure_rows AS
SELECT a.id,
  COALESCE((unixepoch(a.created_at) + z.offset_seconds) / 86400, -1) AS filed_day,
  COALESCE((unixepoch(COALESCE(a.replied_at, CASE WHEN a.status = 'closed' THEN a.closed_at END))
            + z.offset_seconds) / 86400, -1) AS finished_day,
  COALESCE(a.department_id, '') AS department_id, COALESCE(a.category, '') AS category,
  (a.accept_due IS NOT NULL AND a.accepted_at IS NOT NULL) IS TRUE AS accept_settled,
  (a.accept_due IS NOT NULL AND a.accepted_at IS NOT NULL AND a.accepted_at <= a.accept_due) IS TRUE
    AS accepted_on_time,
  (a.reply_due IS NOT NULL AND a.status != 'withdrawn'
   AND COALESCE(a.replied_at, CASE WHEN a.status = 'closed' THEN a.closed_at END) IS NOT NULL) IS TRUE
    AS reply_settled,
  (a.reply_due IS NOT NULL AND a.status != 'withdrawn'
   AND COALESCE(a.replied_at, CASE WHEN a.status = 'closed' THEN a.closed_at END) <= a.reply_due) IS TRUE
    AS replied_on_time,
  (a.rating IS NOT NULL) AS rated, (a.rating >= 3) IS TRUE AS satisfied, (a.rating IN (1, 2)) IS TRUE AS poor,
  (a.reopen_count > 0) IS TRUE AS reopened, (a.return_count > 0) IS TRUE AS returned,
  (a.status = 'closed') AS closed
FROM appeals a, figure_zone z""")
    counts = ("filed", "accept_settled", "accepted_on_time", "reply_settled", "replied_on_time", "rated",
              "satisfied", "poor", "reopened", "returned", "closed")
    db.execute(
        "CREATE TABLE figure_counts (filed_day INTEGER NOT NULL, finished_day INTEGER NOT NULL, "
        "department_id TEXT NOT NULL, category TEXT NOT NULL, "
        + ", ".join(f"{c} INTEGER NOT NULL" for c in counts)
        + ", PRIMARY KEY (filed_day, department_id, category, finished_day)) STRICT, WITHOUT ROWID")
    keys = "filed_day, finished_day, department_id, category"

    def upsert(row: str, sign: str) -> str:
        values = ", ".join([f"{sign}1", *(f"{sign}{c}" for c in counts[1:])])
        updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in counts)
        return (f"INSERT INTO figure_counts ({keys}, {', '.join(counts)}) SELECT {keys}, {values} "
                f"FROM appeal_figure_rows WHERE id = {row}.id ON CONFLICT DO UPDATE SET {updates};")

    watched = ("created_at, department_id, category, status, accept_due, accepted_at, reply_due, replied_at, "
               "closed_at, rating, reopen_count, return_count")
    db.execute(f"CREATE TRIGGER appeals_figures_insert AFTER INSERT ON appeals BEGIN {upsert('NEW', '')} END")
    db.execute(f"CREATE TRIGGER appeals_figures_update_old BEFORE UPDATE OF {watched} ON appeals "
               f"BEGIN {upsert('OLD', '-')} END")
    db.execute(f"CREATE TRIGGER appeals_figures_update_new AFTER UPDATE OF {watched} ON appeals "
               f"BEGIN {upsert('NEW', '')} END")
    db.execute(f"CREATE TRIGGER appeals_figures_delete BEFORE DELETE ON appeals BEGIN {upsert('OLD', '-')} END")
    db.execute(f"INSERT INTO figure_counts ({keys}, {', '.join(counts)}) SELECT {keys}, COUNT(*), "
               + ", ".join(f"SUM({c})" for c in counts[1:]) + f" FROM appeal_figure_rows GROUP BY {keys}")
    # the deadlines still running: few rows, counted at read time against the clock
    db.execute("CREATE INDEX idx_appeals_accept_pending ON appeals (created_at, accept_due, department_id, category) "
               "WHERE accept_due IS NOT NULL AND accepted_at IS NULL")
    db.execute("CREATE INDEX idx_appeals_reply_pending ON appeals (created_at, reply_due, department_id, category) "
               "WHERE reply_due IS NOT NULL AND status != 'withdrawn' AND replied_at IS NULL "
               "AND (status != 'closed' OR closed_at IS NULL)")
    db.execute("DROP INDEX IF EXISTS idx_appeals_figures")  # m_web_002's covering index: nothing reads it now


@migrations()
def m_web_005_running_index(db: Database) -> None:
    """The appeals whose clock runs (the lights of 总览, 超期与督办) read from one covering index: ~7,000 of
    10^5 appeals without a table lookup each."""
    db.execute("CREATE INDEX idx_appeals_running ON appeals (status, department_id, category, created_at, "
               "dispatched_at, accept_due, reply_due, extension_status)")


@migrations()
def m_web_006_figure_days(db: Database) -> None:
    """figure_counts split in two: the counts per filing day (figure_days: ~3,650 rows a year, what 三率 and
    the weekly trend read) and the answers per filing day and answer day (figure_answers: what the
    handling time reads). One table of both made every 总览 sum 33,000 rows where 3,650 carry the counts.
    Same view (appeal_figure_rows), same zone, same triggers' shape."""
    for trigger in ("insert", "update_old", "update_new", "delete"):
        db.execute(f"DROP TRIGGER IF EXISTS appeals_figures_{trigger}")
    db.execute("DROP TABLE IF EXISTS figure_counts")
    counts = ("filed", "accept_settled", "accepted_on_time", "reply_settled", "replied_on_time", "rated",
              "satisfied", "poor", "reopened", "returned", "closed")
    keys = "filed_day, department_id, category"
    db.execute(f"CREATE TABLE figure_days (filed_day INTEGER NOT NULL, department_id TEXT NOT NULL, "
               f"category TEXT NOT NULL, {', '.join(f'{c} INTEGER NOT NULL' for c in counts)}, "
               f"PRIMARY KEY ({keys})) STRICT, WITHOUT ROWID")
    db.execute(f"CREATE TABLE figure_answers (filed_day INTEGER NOT NULL, department_id TEXT NOT NULL, "
               f"category TEXT NOT NULL, finished_day INTEGER NOT NULL, answered INTEGER NOT NULL, "
               f"PRIMARY KEY ({keys}, finished_day)) STRICT, WITHOUT ROWID")

    def upsert(row: str, sign: str) -> str:
        values = ", ".join([f"{sign}1", *(f"{sign}{c}" for c in counts[1:])])
        return (f"INSERT INTO figure_days ({keys}, {', '.join(counts)}) SELECT {keys}, {values} "
                f"FROM appeal_figure_rows WHERE id = {row}.id ON CONFLICT DO UPDATE SET "
                + ", ".join(f"{c} = {c} + excluded.{c}" for c in counts) + "; "
                f"INSERT INTO figure_answers ({keys}, finished_day, answered) SELECT {keys}, finished_day, {sign}1 "
                f"FROM appeal_figure_rows WHERE id = {row}.id AND finished_day >= 0 "
                f"ON CONFLICT DO UPDATE SET answered = answered + excluded.answered;")

    watched = ("created_at, department_id, category, status, accept_due, accepted_at, reply_due, replied_at, "
               "closed_at, rating, reopen_count, return_count")
    db.execute(f"CREATE TRIGGER appeals_figures_insert AFTER INSERT ON appeals BEGIN {upsert('NEW', '')} END")
    db.execute(f"CREATE TRIGGER appeals_figures_update_old BEFORE UPDATE OF {watched} ON appeals "
               f"BEGIN {upsert('OLD', '-')} END")
    db.execute(f"CREATE TRIGGER appeals_figures_update_new AFTER UPDATE OF {watched} ON appeals "
               f"BEGIN {upsert('NEW', '')} END")
    db.execute(f"CREATE TRIGGER appeals_figures_delete BEFORE DELETE ON appeals BEGIN {upsert('OLD', '-')} END")
    db.execute(f"INSERT INTO figure_days ({keys}, {', '.join(counts)}) SELECT {keys}, COUNT(*), "
               + ", ".join(f"SUM({c})" for c in counts[1:]) + f" FROM appeal_figure_rows GROUP BY {keys}")
    db.execute(f"INSERT INTO figure_answers ({keys}, finished_day, answered) SELECT {keys}, finished_day, COUNT(*) "
               f"FROM appeal_figure_rows WHERE finished_day >= 0 GROUP BY {keys}, finished_day")


# ---- one stored form for instants --------------------------------------------------------------------------
# Every instant is stored as UTC ISO 8601 to the millisecond, '2026-11-20T07:30:00.000+00:00' (storage.db.utc_text
# writes it; SQLite's strftime(UTC_FORMAT, x) gives the same), and compared in SQL as an instant (julianday()),
# never as text. A time written with another offset ('+08:00'), or none (read as the center's local time, the
# zone of figure_zone), is rewritten to that form by the triggers below, whoever writes it.
UTC_FORMAT = "%Y-%m-%dT%H:%M:%f+00:00"
APPEAL_TIMES = ("created_at", "updated_at", "dispatched_at", "accept_due", "reply_due", "replied_at", "rating_due",
                "rated_at", "closed_at", "accepted_at")


def utc_sql(column: str) -> str:
    """SQL for ``column`` in the stored form (unparsable text is left as it is)."""
    zoned = f"({column} GLOB '*[+-][0-9][0-9]:[0-9][0-9]' OR {column} GLOB '*[Zz]')"
    local = f"strftime('{UTC_FORMAT}', {column}, -(SELECT offset_seconds FROM figure_zone) || ' seconds')"
    return (f"COALESCE(CASE WHEN {zoned} THEN strftime('{UTC_FORMAT}', {column}) ELSE {local} END, {column})")


def _normalising_triggers(db: Database, table: str, key: str, columns: tuple[str, ...]) -> None:
    off = " OR ".join(f"NEW.{c} IS NOT {utc_sql('NEW.' + c)}" for c in columns)
    sets = ", ".join(f"{c} = {utc_sql(c)}" for c in columns)
    fix = f"UPDATE {table} SET {sets} WHERE {key} = NEW.{key};"
    db.execute(f"CREATE TRIGGER {table}_utc_insert AFTER INSERT ON {table} WHEN {off} BEGIN {fix} END")
    db.execute(f"CREATE TRIGGER {table}_utc_update AFTER UPDATE OF {', '.join(columns)} ON {table} WHEN {off} "
               f"BEGIN {fix} END")


FIGURE_COUNTS = ("filed", "accept_settled", "accepted_on_time", "reply_settled", "replied_on_time", "rated",
                 "satisfied", "poor", "reopened", "returned", "closed", "answered", "close_settled", "closed_on_time")


@migrations()
def m_web_007_instants(db: Database) -> None:
    """Figures right whatever offset a time was written with (issue 18).

    The figure view compared times as text: '2026-11-20T23:59:59+08:00' sorts after '2026-11-20T16:00:00+00:00'
    though it is an instant earlier, so an import with local offsets counted late answers as on time. Now
    every appeal time is rewritten to one form (UTC, milliseconds), kept so by triggers, and the view compares
    instants (julianday). 办结 is counted apart from 答复: figure_days gains 答复量 (answered) and the on-time
    closings, figure_closings the closings per day (the trend's 办结 line). The counts are rebuilt.
    """
    for trigger in ("insert", "update_old", "update_new", "delete"):
        db.execute(f"DROP TRIGGER IF EXISTS appeals_figures_{trigger}")
    db.execute("DROP VIEW IF EXISTS appeal_figure_rows")
    db.execute("DROP TABLE IF EXISTS figure_days")
    db.execute("DROP TABLE IF EXISTS figure_answers")
    # existing rows in the one form (appeals through their columns, the history rows' times too)
    for table, key, columns in (("appeals", "id", APPEAL_TIMES), ("appeal_events", "id", ("at",))):
        for column in columns:
            db.execute(f"UPDATE {table} SET {column} = {utc_sql(column)} WHERE {column} IS NOT {utc_sql(column)}")
        _normalising_triggers(db, table, key, columns)
    finished = "COALESCE(a.replied_at, CASE WHEN a.status = 'closed' THEN a.closed_at END)"
    db.execute(f"""
CREATE VIEW appeal_figure_rows AS
SELECT a.id,
  COALESCE((unixepoch(a.created_at) + z.offset_seconds) / 86400, -1) AS filed_day,
  COALESCE((unixepoch({finished}) + z.offset_seconds) / 86400, -1) AS finished_day,
  CASE WHEN a.status = 'closed' THEN COALESCE((unixepoch(a.closed_at) + z.offset_seconds) / 86400, -1) ELSE -1 END
    AS closed_day,
  COALESCE(a.department_id, '') AS department_id, COALESCE(a.category, '') AS category,
  (a.accept_due IS NOT NULL AND a.accepted_at IS NOT NULL) IS TRUE AS accept_settled,
  (a.accept_due IS NOT NULL AND julianday(a.accepted_at) <= julianday(a.accept_due)) IS TRUE AS accepted_on_time,
  (a.reply_due IS NOT NULL AND a.status != 'withdrawn' AND {finished} IS NOT NULL) IS TRUE AS reply_settled,
  (a.reply_due IS NOT NULL AND a.status != 'withdrawn' AND julianday({finished}) <= julianday(a.reply_due)) IS TRUE
    AS replied_on_time,
  (a.rating IS NOT NULL) AS rated, (a.rating >= 3) IS TRUE AS satisfied, (a.rating IN (1, 2)) IS TRUE AS poor,
  (a.reopen_count > 0) IS TRUE AS reopened, (a.return_count > 0) IS TRUE AS returned,
  (a.status = 'closed') AS closed,
  ({finished} IS NOT NULL) AS answered,
  (a.reply_due IS NOT NULL AND a.status = 'closed') AS close_settled,
  (a.reply_due IS NOT NULL AND a.status = 'closed' AND julianday(a.closed_at) <= julianday(a.reply_due)) IS TRUE
    AS closed_on_time
FROM appeals a, figure_zone z""")
    counts = FIGURE_COUNTS
    keys = "filed_day, department_id, category"
    db.execute(f"CREATE TABLE figure_days (filed_day INTEGER NOT NULL, department_id TEXT NOT NULL, "
               f"category TEXT NOT NULL, {', '.join(f'{c} INTEGER NOT NULL' for c in counts)}, "
               f"PRIMARY KEY ({keys})) STRICT, WITHOUT ROWID")
    for table, day, count in (("figure_answers", "finished_day", "answered"),
                              ("figure_closings", "closed_day", "closed")):
        db.execute(f"CREATE TABLE {table} (filed_day INTEGER NOT NULL, department_id TEXT NOT NULL, "
                   f"category TEXT NOT NULL, {day} INTEGER NOT NULL, {count} INTEGER NOT NULL, "
                   f"PRIMARY KEY ({keys}, {day})) STRICT, WITHOUT ROWID")

    def upsert(row: str, sign: str) -> str:
        values = ", ".join([f"{sign}1", *(f"{sign}{c}" for c in counts[1:])])
        return (f"INSERT INTO figure_days ({keys}, {', '.join(counts)}) SELECT {keys}, {values} "
                f"FROM appeal_figure_rows WHERE id = {row}.id ON CONFLICT DO UPDATE SET "
                + ", ".join(f"{c} = {c} + excluded.{c}" for c in counts) + "; "
                f"INSERT INTO figure_answers ({keys}, finished_day, answered) SELECT {keys}, finished_day, {sign}1 "
                f"FROM appeal_figure_rows WHERE id = {row}.id AND finished_day >= 0 "
                f"ON CONFLICT DO UPDATE SET answered = answered + excluded.answered; "
                f"INSERT INTO figure_closings ({keys}, closed_day, closed) SELECT {keys}, closed_day, {sign}1 "
                f"FROM appeal_figure_rows WHERE id = {row}.id AND closed_day >= 0 "
                f"ON CONFLICT DO UPDATE SET closed = closed + excluded.closed;")

    watched = ("created_at, department_id, category, status, accept_due, accepted_at, reply_due, replied_at, "
               "closed_at, rating, reopen_count, return_count")
    db.execute(f"CREATE TRIGGER appeals_figures_insert AFTER INSERT ON appeals BEGIN {upsert('NEW', '')} END")
    db.execute(f"CREATE TRIGGER appeals_figures_update_old BEFORE UPDATE OF {watched} ON appeals "
               f"BEGIN {upsert('OLD', '-')} END")
    db.execute(f"CREATE TRIGGER appeals_figures_update_new AFTER UPDATE OF {watched} ON appeals "
               f"BEGIN {upsert('NEW', '')} END")
    db.execute(f"CREATE TRIGGER appeals_figures_delete BEFORE DELETE ON appeals BEGIN {upsert('OLD', '-')} END")
    db.execute(f"INSERT INTO figure_days ({keys}, {', '.join(counts)}) SELECT {keys}, COUNT(*), "
               + ", ".join(f"SUM({c})" for c in counts[1:]) + f" FROM appeal_figure_rows GROUP BY {keys}")
    db.execute(f"INSERT INTO figure_answers ({keys}, finished_day, answered) SELECT {keys}, finished_day, COUNT(*) "
               f"FROM appeal_figure_rows WHERE finished_day >= 0 GROUP BY {keys}, finished_day")
    db.execute(f"INSERT INTO figure_closings ({keys}, closed_day, closed) SELECT {keys}, closed_day, COUNT(*) "
               f"FROM appeal_figure_rows WHERE closed_day >= 0 GROUP BY {keys}, closed_day")
    # the deadlines still running, counted at read time (storage/figures.py _PENDING): partial indexes led by the
    # filing instant, holding what the count reads (the closings still due are new)
    pending = {
        "accept": ("accept_due", "accept_due IS NOT NULL AND accepted_at IS NULL"),
        "reply": ("reply_due", "reply_due IS NOT NULL AND status != 'withdrawn' AND replied_at IS NULL "
                  "AND (status != 'closed' OR closed_at IS NULL)"),
        "close": ("reply_due", "reply_due IS NOT NULL AND status NOT IN ('closed', 'withdrawn')"),
    }
    for name, (due, where) in pending.items():
        db.execute(f"DROP INDEX IF EXISTS idx_appeals_{name}_pending")
        db.execute(f"CREATE INDEX idx_appeals_{name}_pending ON appeals (julianday(created_at), created_at, {due}, "
                   f"department_id, category) WHERE {where}")
    # the appeals signed for / answered / closed after their deadline, by filing instant (诉求's late filters: the
    # appeals behind an on-time rate of 总览); the same conditions as storage/web_repo.py _SETTLED_LATE
    finished = "COALESCE(replied_at, CASE WHEN status = 'closed' THEN closed_at END)"
    for name, where in (
        ("accept", "accepted_at IS NOT NULL AND julianday(accepted_at) > julianday(accept_due)"),
        ("reply", f"reply_due IS NOT NULL AND status != 'withdrawn' AND {finished} IS NOT NULL "
                  f"AND julianday({finished}) > julianday(reply_due)"),
        ("close", "reply_due IS NOT NULL AND status = 'closed' "
                  "AND (julianday(closed_at) <= julianday(reply_due)) IS NOT TRUE"),
    ):
        db.execute(f"CREATE INDEX idx_appeals_{name}_late ON appeals (julianday(created_at)) WHERE {where}")
    # filing periods compared as instants (lists, 热点, 督办 per department) read a range of this index
    db.execute("CREATE INDEX idx_appeals_filed ON appeals (julianday(created_at))")
    # 督办 per appeal (超期与督办's counts and filter, the appeal page's history): a few rows of 10^5 events
    db.execute("CREATE INDEX idx_events_supervise ON appeal_events (appeal_id, at, actor_id) "
               "WHERE action = 'supervise'")
