"""Backing up and restoring the SQLite database: what ``wanqi db backup`` and ``wanqi db restore`` do.

A backup is SQLite's online copy, safe while the bot runs. A restore replaces the database file, so it
must be the only one touching it: it holds ``<database>.lock`` exclusively (every process that has the
database open holds it shared, see ``storage.db``), so it is refused while ``wanqi run``, ``wanqi web``,
another command or another restore has the file open. Nothing is ever overwritten without a copy: the
replaced database is kept under a name no other restore can take, and a file is never restored onto
itself or backed up onto itself. Every refusal is a :class:`DatabaseRefused` raised before anything
changed. (Another database engine gets its own module beside this one; the commands choose.)
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

from storage.db import SIDE_FILES, hold_exclusive, hold_shared, lock_path, private, quote_path
from storage.errors import DatabaseRefused

# The database's own files: none of them may be the target of a backup or the source of a restore.
OWN_SUFFIXES = ("", *SIDE_FILES, ".lock")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _one_of(path: Path, database: Path) -> bool:
    """``path`` is the database or one of its side files (-wal, -shm, -journal, .lock)."""
    return any(_same_file(path, database.with_name(database.name + suffix)) for suffix in OWN_SUFFIXES)


def _copy(source: Path, target: Path) -> None:
    """SQLite's online backup of ``source`` (WAL included) into ``target``, a fresh 0600 file."""
    src = sqlite3.connect(f"file:{quote_path(source)}?mode=ro", uri=True, timeout=10)
    try:
        dest = sqlite3.connect(target)
        try:
            with dest:
                src.backup(dest)
            dest.execute("PRAGMA journal_mode = DELETE")  # one self-contained file, no -wal/-shm beside it
        finally:
            dest.close()
    finally:
        src.close()
    private(target)


def _exclusive_name(folder: Path, stem: str) -> Path:
    """``stem``, or ``stem-2``, ``stem-3``…: created empty (0600) here, so no other process can take it."""
    for n in range(1, 10_000):
        candidate = folder / (stem if n == 1 else f"{stem}-{n}")
        try:
            os.close(os.open(candidate, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(folder / stem)  # pragma: no cover - ten thousand restores in one second


def _remove_side_files(path: Path) -> None:
    """SQLite would replay a stale -wal over the new file put in its place."""
    for suffix in SIDE_FILES:
        path.with_name(path.name + suffix).unlink(missing_ok=True)


@contextlib.contextmanager
def _unused(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock exclusively, or refuse naming who has it open."""
    hold = hold_exclusive(path)
    if hold is None:
        raise DatabaseRefused("cli.db.in_use", path=path, who=_who(path))
    try:
        others = processes_using(path)  # e.g. an older Wanqi, or the sqlite3 shell: they take no lock
        if others:
            raise DatabaseRefused("cli.db.in_use", path=path, who=", ".join(others))
        yield
    finally:
        hold.close()


def backup(source: Path, target: Path) -> None:
    """A consistent copy of the live database into ``target`` (0600), written whole or not at all.

    Refused onto the database itself (or its side files) and onto a database some process has open;
    an existing backup file at ``target`` is replaced only once the new copy is complete.
    """
    if not source.is_file():
        raise DatabaseRefused("cli.error.no_database", path=source)
    if _one_of(target, source):
        raise DatabaseRefused("cli.db.backup_onto_itself", path=target)
    if target.is_dir():
        raise DatabaseRefused("cli.db.backup_is_folder", path=target)
    if lock_path(target).exists() or target.with_name(target.name + "-wal").exists():
        # the target is (or was) a live database: it may be replaced only while nobody has it open
        with _unused(target):
            _write_backup(source, target)
        return
    _write_backup(source, target)


def _write_backup(source: Path, target: Path) -> None:
    hold = hold_shared(source, wait=60)  # waits out a restore of the source; runs beside the bot
    try:
        _put_in_place(source, target, "partial")
    finally:
        hold.close()


def _put_in_place(source: Path, target: Path, tag: str) -> None:
    """Copy ``source`` beside ``target`` under a fresh name, then rename it over ``target`` in one step: the
    target is the old file or the whole new one, never half of it. The target's stale -wal/-shm go first."""
    staged = _exclusive_name(target.parent, f".{target.name}.{tag}")
    try:
        _copy(source, staged)
        _remove_side_files(target)
        os.replace(staged, target)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise


def check_integrity(path: Path) -> str | None:
    """None if ``path`` is a sound Wanqi database, else what is wrong (SQLite's words)."""
    try:
        conn = sqlite3.connect(f"file:{quote_path(path)}?mode=ro", uri=True)
        try:
            result = conn.execute("PRAGMA integrity_check").fetchone()[0]
            if result != "ok":
                return str(result)
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if {"appeals", "users"} <= tables else "not a Wanqi database"


def _refuse_newer(path: Path) -> None:
    from storage.db import refuse_newer_schema

    conn = sqlite3.connect(f"file:{quote_path(path)}?mode=ro", uri=True)
    try:
        refuse_newer_schema(conn, path)
    finally:
        conn.close()


def _lease_holder(path: Path, now: float) -> str | None:
    """Who holds the "primary" lease (a ``wanqi run`` of a version that took no lock file, or elsewhere)."""
    conn = sqlite3.connect(f"file:{quote_path(path)}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute("SELECT holder FROM leases WHERE name = 'primary' AND expires_at > ?", [now]).fetchone()
    except sqlite3.OperationalError:  # no leases table yet
        return None
    finally:
        conn.close()
    return str(row[0]) if row else None


def restore(source: Path, target: Path, now: float) -> Path | None:
    """Put backup ``source`` in place of the database ``target``; returns where the old database was kept.

    Refuses (:class:`DatabaseRefused`, nothing changed) a missing, unsound or newer-schema backup, the
    database itself as its own backup, and a database any process has open or another restore is replacing.
    The old database is first copied (online backup) to ``<name>.before-restore-<local time>`` (a suffix
    keeps two in one second apart); its stale -wal/-shm are removed so SQLite cannot replay them over the
    restored file; the copy is checked before and after.
    """
    if not source.is_file():
        raise DatabaseRefused("cli.db.restore_no_backup", path=source)
    if _one_of(source, target):
        raise DatabaseRefused("cli.db.restore_onto_itself", path=source)
    problem = check_integrity(source)
    if problem is not None:
        raise DatabaseRefused("cli.db.restore_bad_backup", path=source, problem=problem)
    _refuse_newer(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _unused(target):
        saved = None
        if target.exists():
            holder = _lease_holder(target, now)
            if holder is not None:
                raise DatabaseRefused("cli.db.restore_running", holder=holder)
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
            saved = _exclusive_name(target.parent, f"{target.name}.before-restore-{stamp}")
            _copy(target, saved)
        _put_in_place(source, target, "restoring")
        problem = check_integrity(target)
        if problem is not None:  # pragma: no cover - the staged copy was checked as it was written
            raise DatabaseRefused("cli.db.restore_bad_backup", path=target, problem=problem)
    return saved


def _who(path: Path) -> str:
    found = processes_using(path)
    return ", ".join(found) if found else "wanqi"


def processes_using(path: Path) -> list[str]:
    """Other processes that have the database or its side files open, as ``PID (command)`` (Linux /proc;
    elsewhere an empty list, and the lock file alone decides)."""
    try:
        resolved = path.resolve()
    except OSError:
        return []
    names = {str(resolved.with_name(resolved.name + suffix)) for suffix in ("", "-wal", "-shm", "-journal")}
    proc, me, found = Path("/proc"), os.getpid(), []
    if not proc.is_dir():
        return []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            links = {os.readlink(fd) for fd in (entry / "fd").iterdir()}
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if links & names:
            found.append(f"{entry.name} ({_command(entry)})")
    return found


def _command(entry: Path) -> str:
    """``wanqi run``, ``wanqi web``… from a process's command line (the words after the program)."""
    try:
        words = [w.decode(errors="replace") for w in (entry / "cmdline").read_bytes().split(b"\0") if w]
    except OSError:
        return "?"
    for i, word in enumerate(words):
        if Path(word).name == "wanqi" or word.endswith("main()"):
            rest = [w for w in words[i + 1:] if not w.startswith("-") and "/" not in w and not w.endswith(".yml")]
            return " ".join(["wanqi", *rest[:2]])
    return " ".join(Path(w).name if i == 0 else w for i, w in enumerate(words[:3]))
