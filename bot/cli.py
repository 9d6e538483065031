"""The ``wanqi`` command line: demo, run, staff, db, and the nlu and policies tool groups."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import click

from appeals.model import Role
from appeals.staff import StaffService
from bot.config import Settings, load_settings
from storage.db import open_db
from storage.repository import SqliteRepository

if TYPE_CHECKING:
    from bot.render import Renderer


@click.group()
@click.option("--config", "config_path", default="config.yml", show_default=True,
              help="The center's settings file.")
@click.pass_context
def main(ctx: click.Context, config_path: str) -> None:
    """万企诉求助手 (Wanqi): the enterprise appeal bot and its tools."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def _settings(ctx: click.Context) -> Settings:
    return load_settings(ctx.obj["config_path"])


@main.command()
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the demo database goes (default: a fresh temporary folder).")
@click.pass_context
def demo(ctx: click.Context, workdir: Path | None) -> None:
    """Play the whole journey against a local Bot API stand-in: no token, no network."""
    from bot.demo import run_demo

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    ctx.exit(asyncio.run(run_demo(_settings(ctx), click.echo, workdir)))


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the bot: long polling with the token from WANQI_BOT_TOKEN."""
    from bot.runner import run_polling

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(ctx)
    if not settings.bot_token:
        raise click.ClickException("WANQI_BOT_TOKEN is not set (the bot token from @BotFather).")
    asyncio.run(run_polling(settings))


@main.group()
def staff() -> None:
    """Center staff accounts."""


def _staff_service(ctx: click.Context) -> tuple[StaffService, Settings]:
    """The staff service over the configured database, acting as the command line (audited as cli:LOGIN)."""
    from bootstrap import NoClassifier, build_core

    settings = _settings(ctx)
    core = build_core(settings, classifier=NoClassifier(), sync_catalogue=False, seed_supervisors=False)
    return core.registration.staff, settings


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"


def _domain_error(exc: Exception) -> click.ClickException:
    """A domain refusal as one line in the catalogue's words."""
    from appeals.errors import AppealError
    from bot.texts import translator

    assert isinstance(exc, AppealError)
    return click.ClickException(translator(None)(exc.key, **exc.params))


def _cli_renderer(settings: Settings) -> Renderer:
    from bot.render import Renderer

    return Renderer(settings)


@staff.command("invite")
@click.option("--role", type=click.Choice(["handler", "dispatcher", "supervisor"]), required=True)
@click.option("--department", default=None, help="Department id from config.yml (required for handlers).")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 100),
              help="How many one-time codes to create.")
@click.pass_context
def staff_invite(ctx: click.Context, role: str, department: str | None, count: int) -> None:
    """Create one-time invite codes (they expire); the person sends `/join CODE` to the bot."""
    from appeals.errors import AppealError
    from appeals.model import SYSTEM
    from bot.texts import translator

    service, settings = _staff_service(ctx)
    if department is not None and department not in settings.departments:
        known = ", ".join(settings.departments)
        raise click.BadParameter(f"unknown department {department!r}; known: {known}", param_hint="--department")
    try:
        for _ in range(count):
            click.echo(f"/join {service.create_invite(SYSTEM, Role(role), department, via=_login()).code}")
    except AppealError as exc:
        raise _domain_error(exc) from exc
    t = translator(None)
    name = settings.departments.get(department or "", "")
    click.echo(t("team.cli_invites_note", count=count, role=t(f"role.{role}"),
                 department=f"（{name}）" if name else "", days=settings.staff.invite_days), err=True)


@staff.command("list")
@click.pass_context
def staff_list(ctx: click.Context) -> None:
    """Every staff member: id, name, role, department, active, joined (removed ones last)."""
    from appeals.model import SYSTEM
    from bot.handlers.team import members_text
    from bot.texts import translator

    service, settings = _staff_service(ctx)
    click.echo(members_text(translator(None), _cli_renderer(settings), service.members(SYSTEM)))


@staff.command("remove")
@click.argument("user_id")
@click.pass_context
def staff_remove(ctx: click.Context, user_id: str) -> None:
    """Remove a member at once: their next button press or command is refused."""
    from appeals.errors import AppealError
    from appeals.inputs import parse_id
    from appeals.model import SYSTEM
    from bot.texts import translator

    service, settings = _staff_service(ctx)
    t = translator(None)
    try:
        removal = service.remove(SYSTEM, parse_id(user_id), via=_login())
    except AppealError as exc:
        raise _domain_error(exc) from exc
    member, work = removal.member, removal.open_work
    numbers = "、".join(a.number for a in work)
    note = t("team.removed_work", count=len(work), numbers=numbers) if work else ""
    click.echo(t("team.removed_done", id=member.id, role=t(f"role.{member.role}"), work=note))
    if member.id in settings.supervisors:
        click.echo(t("team.cli_removed_bootstrap", id=member.id), err=True)


@staff.command("set-role")
@click.argument("user_id")
@click.option("--role", type=click.Choice(["handler", "dispatcher", "supervisor"]), required=True)
@click.option("--department", default=None, help="Department id from config.yml (handlers only).")
@click.pass_context
def staff_set_role(ctx: click.Context, user_id: str, role: str, department: str | None) -> None:
    """Give a user who has written to the bot a staff role (recorded as granted, survives restarts)."""
    from appeals.errors import AppealError
    from appeals.inputs import parse_id
    from appeals.model import SYSTEM
    from bot.texts import translator

    service, settings = _staff_service(ctx)
    t = translator(None)
    try:
        member = service.set_role(SYSTEM, parse_id(user_id), Role(role), department, via=_login())
    except AppealError as exc:
        raise _domain_error(exc) from exc
    dept = f" · {settings.departments.get(member.department_id, '')}" if member.department_id else ""
    click.echo(t("team.role_done", id=member.id, role=t(f"role.{member.role}"), department=dept))


@staff.command("invites")
@click.pass_context
def staff_invites(ctx: click.Context) -> None:
    """Invite codes with their state (open, used, revoked, expired)."""
    from datetime import UTC, datetime

    from appeals.model import SYSTEM
    from bot.handlers.team import invites_text
    from bot.texts import translator

    service, settings = _staff_service(ctx)
    click.echo(invites_text(translator(None), _cli_renderer(settings), service.invites(SYSTEM), datetime.now(UTC)))


@staff.command("revoke")
@click.argument("code")
@click.pass_context
def staff_revoke(ctx: click.Context, code: str) -> None:
    """Revoke an unused invite code."""
    from appeals.errors import AppealError
    from appeals.model import SYSTEM
    from bot.texts import translator

    service, _ = _staff_service(ctx)
    try:
        service.revoke_invite(SYSTEM, code, via=_login())
    except AppealError as exc:
        raise _domain_error(exc) from exc
    click.echo(translator(None)("team.revoked_done"))


@staff.command("log")
@click.argument("user_id", required=False)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_context
def staff_log(ctx: click.Context, user_id: str | None, limit: int) -> None:
    """The staff change log (who, when, what), newest first."""
    from appeals.errors import AppealError
    from appeals.inputs import parse_id
    from appeals.model import SYSTEM
    from bot.handlers.team import log_text
    from bot.texts import translator

    service, settings = _staff_service(ctx)
    try:
        entries = service.log(SYSTEM, parse_id(user_id) if user_id else None, limit)
    except AppealError as exc:
        raise _domain_error(exc) from exc
    click.echo(log_text(translator(None), _cli_renderer(settings), entries))


@main.command()
@click.option("--days", default=30, show_default=True, help="Appeals filed in the last N days.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The .xlsx file.")
@click.pass_context
def report(ctx: click.Context, days: int, out: Path) -> None:
    """The supervisors' Excel report: per-department figures and every appeal."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from appeals.model import SYSTEM
    from bootstrap import NoClassifier, build_core
    from bot.report import build_report, figures_line
    from bot.texts import translator

    settings = _settings(ctx)
    core = build_core(settings, classifier=NoClassifier(), sync_catalogue=False, seed_supervisors=False)
    now = datetime.now(UTC)
    t = translator(None)
    appeals, names = core.appeals.report(SYSTEM, now - timedelta(days=days))
    end = now.astimezone(ZoneInfo(settings.center.timezone)).date()
    overview = core.figures.overview(SYSTEM, end - timedelta(days=days - 1), end)
    out.write_bytes(build_report(appeals, names, settings, t, now, overview))
    core.close()
    click.echo(figures_line(t, overview))
    click.echo(f"{len(appeals)} appeals written to {out}")


@main.group()
def db() -> None:
    """The SQLite database."""


@db.command("migrate")
@click.pass_context
def db_migrate(ctx: click.Context) -> None:
    """Apply pending schema migrations."""
    from storage.migrations import migrations

    settings = _settings(ctx)
    database = open_db(settings.path(settings.database), migrate=False)
    pending = [m.name for m in migrations.pending(database)]
    migrations.apply(database)
    click.echo(f"applied {len(pending)} migration(s): {', '.join(pending) or '-'}")


@db.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def db_backup(ctx: click.Context, target: Path) -> None:
    """Copy the live database consistently (SQLite online backup), safe while the bot runs."""
    import sqlite3

    settings = _settings(ctx)
    source = sqlite3.connect(settings.path(settings.database))
    dest = sqlite3.connect(target)
    with dest:
        source.backup(dest)
    dest.close()
    source.close()
    click.echo(f"backed up to {target}")


# Tool groups living next to what they operate on. Each helper adds its line here.
main.add_command(__import__("nlu.cli", fromlist=["nlu"]).nlu)  # wanqi nlu ...


@main.commands["nlu"].command("export-feedback")  # type: ignore[attr-defined]
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="A Rasa NLU YAML file (or a folder: one file per category).")
@click.pass_context
def export_feedback(ctx: click.Context, out: Path) -> None:
    """Export category corrections, dispatcher decisions and re-dispatched returns as training examples."""
    from nlu.data_io import Example, write_rasa_yaml

    settings = _settings(ctx)
    repo = SqliteRepository(open_db(settings.path(settings.database)))
    rows = repo.feedback_examples()
    if not rows:
        raise click.ClickException("no feedback yet: nothing was corrected, dispatched by hand or returned")
    latest: dict[str, str] = {}
    for text, category, _source in rows:  # the last decision on a text wins
        latest[text] = category
    written = write_rasa_yaml([Example(text=text, label=category) for text, category in latest.items()], out)
    counts = {source: sum(1 for *_, s in rows if s == source) for source in ("correction", "dispatch", "return")}
    click.echo(f"exported {len(latest)} examples to {', '.join(map(str, written))} "
               f"(corrections {counts['correction']}, dispatches {counts['dispatch']}, returns {counts['return']})")
main.add_command(__import__("bot.policies_cli", fromlist=["policies"]).policies)  # wanqi policies ...
