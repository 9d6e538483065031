"""`wanqi web` (the console and Open311 API alone), `wanqi web link`, and `wanqi api-key` for partners."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import click

from cli.base import HelpGroup, ListenAddress, _settings, fail, open_data
from config import Settings
from texts import cli_text

log = logging.getLogger(__name__)


_fail = fail


@click.group("web", cls=HelpGroup, invoke_without_command=True)
@click.option("--listen", default=None, type=ListenAddress(),
              help="host:port (default: web.listen from config.yml / WANQI_WEB_LISTEN).")
@click.pass_context
def web_group(ctx: click.Context, listen: str | None) -> None:
    """Serve the console and the Open311 API alone (without the bot's polling)."""
    if ctx.invoked_subcommand is not None:
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = _settings(ctx)
    try:
        asyncio.run(serve_alone(settings, listen))
    except OSError as exc:
        raise _fail("cli.web.cannot_listen", listen=listen or settings.web.listen, problem=exc.strerror) from exc


async def serve_alone(settings: Settings, listen: str | None = None, *, stop: asyncio.Event | None = None) -> None:
    """Until ``stop`` is set (or forever). Steps taken here queue their notices in the outbox of the same
    database; the delivery worker of `wanqi run` sends them."""
    from bootstrap import build_classifier, build_core, settle_heap
    from web.context import WebContext
    from web.server import start

    core = build_core(settings, classifier=build_classifier(settings))
    runner = await start(WebContext(settings, core.services(), core.clock), listen)
    settle_heap()
    try:
        await (stop.wait() if stop is not None else asyncio.Event().wait())
    finally:
        await runner.cleanup()
        core.close()


@web_group.command("link")
@click.option("--user", "user_id", type=int, required=True, help="The staff member's user id (Telegram id).")
@click.pass_context
def web_link(ctx: click.Context, user_id: int) -> None:
    """Print a one-time console login link (valid 10 minutes) for a staff member."""
    from bootstrap import NoClassifier, build_core
    from web.auth import login_url

    settings = _settings(ctx)
    core = build_core(settings, classifier=NoClassifier(), db=open_data(settings), sync_catalogue=False,
                      seed_supervisors=False)
    try:
        user = core.repo.get_user(user_id)
        if user is None or user.role not in ("handler", "dispatcher", "supervisor"):  # the recorded role
            raise _fail("cli.web.not_staff", user=user_id)
        token = core.web.create_login_link(user_id, datetime.now(UTC))
    finally:
        core.close()
    click.echo(login_url(settings, token))


@click.group("api-key", cls=HelpGroup)
def api_key() -> None:
    """Keys of partner systems for the Open311 API (stored hashed)."""


def _key_name(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """A partner's name: 1-64 printable characters without spaces (it is typed again to revoke the key)."""
    name = value.strip()
    if not name or len(name) > 64 or not name.isprintable() or any(c.isspace() for c in name):
        raise click.BadParameter(cli_text("cli.api_key.bad_name"))
    return name


@api_key.command("create")
@click.option("--name", required=True, callback=_key_name, help="Who the key is for, e.g. 12345-hotline.")
@click.option("--rate", default=None, type=click.IntRange(1, 100_000),
              help="Requests per minute, 1-100000 (default: web.api_rate_per_minute).")
@click.pass_context
def api_key_create(ctx: click.Context, name: str, rate: int | None) -> None:
    """Create a key and print it once: only its hash is kept."""
    from storage.web_repo import WebRepository

    settings = _settings(ctx)
    db = open_data(settings)
    try:
        key = WebRepository(db).create_key(name, datetime.now(UTC), rate or settings.web.api_rate_per_minute)
    except ValueError as exc:
        raise _fail("cli.api_key.exists", name=name) from exc
    finally:
        db.close()
    click.echo(key)
    click.echo(cli_text("cli.api_key.created", name=name), err=True)


@api_key.command("list")
@click.pass_context
def api_key_list(ctx: click.Context) -> None:
    """Every key: name, prefix, limit, created, last used, revoked."""
    from storage.web_repo import WebRepository

    settings = _settings(ctx)
    db = open_data(settings)
    keys = WebRepository(db).keys()
    db.close()
    if not keys:
        click.echo(cli_text("cli.api_key.none"))

    def local(stamp: str | None) -> str:  # the center's time, as `wanqi staff` shows it
        if not stamp:
            return "-"
        from zoneinfo import ZoneInfo

        moment = datetime.fromisoformat(stamp)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return moment.astimezone(ZoneInfo(settings.center.timezone)).strftime("%Y-%m-%d %H:%M")

    for k in keys:
        state = cli_text("cli.api_key.revoked_at", at=local(k.revoked_at)) if k.revoked_at else \
            cli_text("cli.api_key.active")
        click.echo(cli_text("cli.api_key.line", name=k.name, prefix=k.prefix, rate=k.rate_per_minute,
                            created=local(k.created_at), used=local(k.last_used_at), state=state))


@api_key.command("revoke")
@click.argument("name")
@click.pass_context
def api_key_revoke(ctx: click.Context, name: str) -> None:
    """Revoke a key at once: its next call gets 403."""
    from storage.web_repo import WebRepository

    db = open_data(_settings(ctx))
    done = WebRepository(db).revoke_key(name, datetime.now(UTC))
    db.close()
    if not done:
        raise _fail("cli.api_key.unknown", name=name)
    click.echo(cli_text("cli.api_key.revoked", name=name))
