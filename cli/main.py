"""The ``wanqi`` command: demo, run, init, staff, report, db, and the nlu, policies, inbox and web tool groups."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from cli import __version__
from cli.base import (
    Failure,
    ListenAddress,
    WanqiGroup,
    _folder_of,
    _set_debug,
    _settings,
    fail,
    open_data,
    write_private,
)
from texts import cli_locale, cli_text, translator

if TYPE_CHECKING:  # the commands import what they use: `wanqi --version` loads neither pydantic nor SQLite
    from appeals.staff import StaffService
    from bot.app import App
    from bot.render import Renderer
    from config import Settings


@click.group(cls=WanqiGroup)
@click.option("--config", "config_path", default=None, metavar="FILE",
              help="The center's settings (default: $WANQI_CONFIG, ./config.yml, else the packaged default).")
@click.option("--debug", is_flag=True, expose_value=False, is_eager=True, callback=_set_debug,
              help="Show the full traceback of an unexpected error.")
@click.version_option(__version__, prog_name="wanqi", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """Wanqi: the enterprise appeal bot and its tools.

    Exit status: 0 ok, 1 failed, 2 usage error, 130 interrupted.
    """
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path
    ctx.obj["settings_loader"] = lambda: _settings(ctx)
    ctx.obj["cli_text"] = cli_text  # for tool groups that import no bot code (nlu)



@main.command()
@click.argument("folder", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing config.yml.")
def init(folder: Path, force: bool) -> None:
    """Write an editable config.yml and the sample policy catalogue into FOLDER (default: here)."""
    import shutil

    from config import DEFAULT_CONFIG, SHIPPED_CATALOGUE

    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yml"
    if config.exists() and not force:
        raise fail("cli.init.exists", path=config)
    text = DEFAULT_CONFIG.read_text(encoding="utf-8").replace(
        "  catalogue:                    # folder of policy YAML files; empty: the SAMPLE catalogue shipped with wanqi",
        "  catalogue: policies           # folder of policy YAML files (relative to this file); "
        "the copied SAMPLE catalogue: replace it with your own")
    config.write_text(text, encoding="utf-8")
    click.echo(cli_text("cli.init.written", path=config))
    catalogue = folder / "policies"
    if not catalogue.exists():
        shutil.copytree(SHIPPED_CATALOGUE, catalogue)
        click.echo(cli_text("cli.init.written", path=catalogue))
    from config import load_settings

    settings = load_settings(config)  # as the commands in that folder will read it (the environment applied)
    click.echo(cli_text("cli.init.data", folder=settings.data_dir, database=settings.path(settings.database)))
    click.echo(cli_text("cli.init.next", config=config))


@main.command()
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the demo database in this folder (default: a temporary folder, removed afterwards).")
@click.option("--console", "console", is_flag=True,
              help="Afterwards serve the demo's database in the web console on 127.0.0.1 and print a login link.")
@click.option("--listen", default="127.0.0.1:8080", show_default=True, type=ListenAddress(local=True),
              help="Where --console listens (127.0.0.1:PORT).")
@click.pass_context
def demo(ctx: click.Context, workdir: Path | None, console: bool, listen: str) -> None:
    """Play the whole journey against a local Bot API stand-in: no token, no network."""
    import asyncio
    import logging

    from demo.scenario import run_demo

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = _settings(ctx)
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
    try:
        code = asyncio.run(run_demo(settings, click.echo, workdir, console=listen if console else None))
    except OSError as exc:
        raise fail("cli.web.cannot_listen", listen=listen, problem=exc.strerror or exc) from exc
    ctx.exit(code)


async def start_web(app: App) -> Any:
    """The console and the Open311 API in the bot's process, on web.listen, over the same services."""
    from bootstrap import SystemClock
    from web.context import WebContext
    from web.server import start

    clock = app.core.clock if app.core is not None else SystemClock()
    try:
        return await start(WebContext(app.settings, app.services, clock))  # services queue the notices
    except OSError as exc:  # the address is taken (another wanqi run?) or not this machine's
        raise fail("cli.web.cannot_listen", listen=app.settings.web.listen, problem=exc.strerror or exc) from None


@main.command()
@click.pass_context
def run(ctx: click.Context) -> None:
    """Run the bot: long polling with the token from WANQI_BOT_TOKEN; waits for the network if it is down."""
    import asyncio
    import logging

    from bot.runner import BotApiRefused, quiet_library_logs, run_polling, valid_token
    from storage.redact import install

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_library_logs()
    settings = _settings(ctx)
    install(settings.bot_token)  # no log line carries the token, whatever the library puts in an error
    if not settings.bot_token:
        raise fail("cli.run.no_token")
    if not valid_token(settings.bot_token):
        raise fail("cli.run.bad_token")
    try:
        asyncio.run(run_polling(settings, announce=click.echo, web=start_web))
    except BotApiRefused as exc:
        raise fail(exc.key, url=settings.telegram.api_base) from None
    except asyncio.CancelledError:  # stopped by a signal while waiting for the Bot API
        raise KeyboardInterrupt from None
    click.echo(cli_text("cli.run.stopped"))


@main.group()
def staff() -> None:
    """Center staff accounts."""


def _staff_service(ctx: click.Context) -> tuple[StaffService, Settings]:
    """The staff service over the configured database, acting as the command line (audited as cli:LOGIN)."""
    from bootstrap import NoClassifier, build_core

    settings = _settings(ctx)
    core = build_core(settings, classifier=NoClassifier(), db=open_data(settings), sync_catalogue=False,
                      seed_supervisors=False)
    return core.registration.staff, settings


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name in a bare container
        return "unknown"


def _domain_error(exc: Exception) -> Failure:
    """A domain refusal as one line in the catalogue's words."""
    from appeals.errors import AppealError
    from texts import translator

    assert isinstance(exc, AppealError)
    return Failure(translator(cli_locale(), html=False)(exc.key, **exc.params))


def _cli_renderer(settings: Settings) -> Renderer:
    from bot.render import Renderer

    return Renderer(settings)


@staff.command("invite")
@click.option("--role", type=click.Choice(["handler", "dispatcher", "supervisor"]), required=True)
@click.option("--department", default=None, help="Department id from config.yml (required for handlers).")
@click.option("--count", default=1, show_default=True, type=click.IntRange(1, 100),
              help="How many one-time codes to create (1-100).")
@click.pass_context
def staff_invite(ctx: click.Context, role: str, department: str | None, count: int) -> None:
    """Create one-time invite codes (they expire); the person sends `/join CODE` to the bot."""
    from appeals.errors import AppealError
    from appeals.model import SYSTEM, Role

    service, settings = _staff_service(ctx)
    if department is not None and department not in settings.departments:
        raise fail("cli.staff.unknown_department", department=department, known=", ".join(settings.departments))
    try:
        for _ in range(count):
            click.echo(f"/join {service.create_invite(SYSTEM, Role(role), department, via=_login()).code}")
    except AppealError as exc:
        raise _domain_error(exc) from exc
    t = translator(cli_locale(), html=False)
    name = settings.departments.get(department or "", "")
    where = (f"（{name}）" if t.locale == "zh-CN" else f" ({name})") if name else ""
    click.echo(t("team.cli_invites_note", count=count, role=t(f"role.{role}"), department=where,
                 days=settings.staff.invite_days), err=True)


@staff.command("list")
@click.pass_context
def staff_list(ctx: click.Context) -> None:
    """Every staff member: id, name, role, department, active, joined (removed ones last)."""
    from appeals.model import SYSTEM
    from bot.team_text import members_text
    from texts import translator

    service, settings = _staff_service(ctx)
    click.echo(members_text(translator(cli_locale(), html=False), _cli_renderer(settings), service.members(SYSTEM)))


@staff.command("remove")
@click.argument("user_id")
@click.pass_context
def staff_remove(ctx: click.Context, user_id: str) -> None:
    """Remove a member at once: their next button press or command is refused."""
    from appeals.errors import AppealError
    from appeals.inputs import parse_id
    from appeals.model import SYSTEM
    from texts import translator

    service, settings = _staff_service(ctx)
    t = translator(cli_locale(), html=False)
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
    from appeals.model import SYSTEM, Role

    service, settings = _staff_service(ctx)
    t = translator(cli_locale(), html=False)
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
    from bot.team_text import invites_text
    from texts import translator

    service, settings = _staff_service(ctx)
    t = translator(cli_locale(), html=False)
    click.echo(invites_text(t, _cli_renderer(settings), service.invites(SYSTEM), datetime.now(UTC)))


@staff.command("revoke")
@click.argument("code")
@click.pass_context
def staff_revoke(ctx: click.Context, code: str) -> None:
    """Revoke an unused invite code."""
    from appeals.errors import AppealError
    from appeals.model import SYSTEM
    from texts import translator

    service, _ = _staff_service(ctx)
    try:
        service.revoke_invite(SYSTEM, code, via=_login())
    except AppealError as exc:
        raise _domain_error(exc) from exc
    click.echo(translator(cli_locale(), html=False)("team.revoked_done"))


@staff.command("log")
@click.argument("user_id", required=False)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_context
def staff_log(ctx: click.Context, user_id: str | None, limit: int) -> None:
    """The staff change log (who, when, what), newest first."""
    from appeals.errors import AppealError
    from appeals.inputs import parse_id
    from appeals.model import SYSTEM
    from bot.team_text import log_text
    from texts import translator

    service, settings = _staff_service(ctx)
    try:
        entries = service.log(SYSTEM, parse_id(user_id) if user_id else None, limit)
    except AppealError as exc:
        raise _domain_error(exc) from exc
    click.echo(log_text(translator(cli_locale(), html=False), _cli_renderer(settings), entries))


@main.command()
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3660),
              help="Appeals filed in the last N days.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="The .xlsx file.")
@click.pass_context
def report(ctx: click.Context, days: int, out: Path) -> None:
    """The supervisors' Excel report: per-department figures and every appeal."""
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from appeals.model import SYSTEM
    from bootstrap import NoClassifier, build_core
    from reports.workbook import build_report, figures_line

    settings = _settings(ctx)
    if out.suffix.lower() != ".xlsx":
        raise fail("cli.error.not_xlsx", path=out)
    _folder_of(out)
    core = build_core(settings, classifier=NoClassifier(), db=open_data(settings), sync_catalogue=False,
                      seed_supervisors=False)
    try:
        now = datetime.now(UTC)
        t = translator(cli_locale(), html=False)
        appeals, names = core.appeals.report(SYSTEM, now - timedelta(days=days))
        end = now.astimezone(ZoneInfo(settings.center.timezone)).date()
        overview = core.figures.overview(SYSTEM, end - timedelta(days=days - 1), end, fresh=True)
        write_private(out, build_report(appeals, names, settings, t, now, overview))
    finally:
        core.close()
    click.echo(figures_line(t, overview))
    click.echo(cli_text("cli.report.written", count=len(appeals), path=out))


@main.group()
def db() -> None:
    """Database migrations, backups and restores."""


@db.command("migrate")
@click.pass_context
def db_migrate(ctx: click.Context) -> None:
    """Apply pending schema migrations (creates the database if there is none)."""
    from storage.db import open_db
    from storage.migrations import migrations

    settings = _settings(ctx)
    database = open_db(settings.path(settings.database), migrate=False)
    pending = [m.name for m in migrations.pending(database)]
    migrations.apply(database)
    click.echo(cli_text("cli.db.migrated", count=len(pending), names=", ".join(pending) or "-"))


@db.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def db_backup(ctx: click.Context, target: Path) -> None:
    """Copy the live database consistently (SQLite online backup), safe while the bot runs."""
    from storage.backup import backup

    settings = _settings(ctx)
    _folder_of(target)
    backup(settings.path(settings.database), target)  # a 0600 file: it holds the same personal data
    click.echo(cli_text("cli.db.backed_up", path=target))


@db.command("restore")
@click.argument("backup_file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def db_restore(ctx: click.Context, backup_file: Path) -> None:
    """Replace the database with a backup: refused while any wanqi process has it open; the old one is kept."""
    import time

    from storage.backup import restore
    from storage.db import open_db

    settings = _settings(ctx)
    target = settings.path(settings.database)
    saved = restore(backup_file, target, time.time())
    open_db(target).close()  # a backup from an older version gets this version's migrations
    if saved is not None:
        click.echo(cli_text("cli.db.previous_kept", path=saved))
    click.echo(cli_text("cli.db.restored", path=target, backup=backup_file))


# The tool groups (nlu, policies, inbox, web, api-key) live in their own modules, imported only when
# named: WanqiGroup.LAZY.
