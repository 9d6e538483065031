"""``wanqi policies``: validate and import the catalogue, match one enterprise, run or preview the weekly push."""

from __future__ import annotations

import asyncio
import csv
import time as clock
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from cli.base import HelpGroup, _settings, fail, open_data, write_xlsx
from texts import cli_locale, cli_text, has_cli_text, translator

if TYPE_CHECKING:
    from config import Settings
    from policies.service import PolicyService
    from storage.policies_repo import PolicyRepository


def _service(settings: Settings, on: date | None = None) -> tuple[PolicyService, PolicyRepository]:
    from bot.policy_wiring import sync_catalogue
    from policies.service import PolicyService
    from storage.outbox import Outbox
    from storage.policies_repo import PolicyRepository

    db = open_data(settings)
    sync_catalogue(db, settings)  # the YAML catalogue as the bot would see it after a start
    repo = PolicyRepository(db)
    clock = (lambda: datetime.combine(on, time(12), tzinfo=UTC)) if on else None
    p = settings.policies
    service = PolicyService(repo, Outbox(db), timezone=settings.center.timezone,
                            window_days=p.deadline_window_days, max_per_digest=p.max_per_digest,
                            **({"clock": clock} if clock else {}))
    return service, repo


@click.group(cls=HelpGroup)
def policies() -> None:
    """The policy catalogue and the weekly policy push (policy = a government policy document)."""


@policies.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.pass_context
def validate(ctx: click.Context, paths: tuple[Path, ...]) -> None:
    """Validate YAML catalogue files (default: the configured catalogue folder)."""
    from policies.catalogue import CatalogueError, load_catalogue

    settings = _settings(ctx)
    try:
        found = load_catalogue(paths or settings.path(settings.policies.catalogue))
    except CatalogueError as err:
        for issue in err.issues:
            click.echo(str(issue), err=True)
        raise fail("cli.policies.invalid", count=len(err.issues)) from err
    click.echo(cli_text("cli.policies.valid", count=len(found), sample=sum(p.sample for p in found)))


@policies.command()
@click.argument("out", required=False, default="policies-template.xlsx",
                type=click.Path(dir_okay=False, path_type=Path))
def template(out: Path) -> None:
    """Write an example spreadsheet for `wanqi policies import`: every header, an example row, what each takes."""
    from reports.templates import policy_template

    write_xlsx(out, policy_template(translator(cli_locale(), html=False)))


@policies.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Validate and report without storing.")
@click.pass_context
def import_(ctx: click.Context, file: Path, dry_run: bool) -> None:
    """Import a center spreadsheet (.xlsx or .csv with Chinese column headers) and report what changed.

    Exits 1 when the file cannot be read, has no rows or no known headers, or every row is rejected.
    """
    from openpyxl.utils.exceptions import InvalidFileException  # here: `wanqi run` need not load openpyxl

    from policies.importer import COLUMNS, TEMPLATE_HEADERS, import_rows, read_rows

    settings = _settings(ctx)
    try:
        rows = read_rows(file)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, UnicodeDecodeError, csv.Error) as exc:
        raise fail("cli.policies.unreadable", path=file, problem=type(exc).__name__) from None
    if not rows:
        raise fail("cli.policies.no_rows", path=file)
    if not set(rows[0]) & set(COLUMNS):
        raise fail("cli.policies.unknown_headers", path=file, found="、".join(h for h in rows[0] if h) or "-",
                   expected="、".join(TEMPLATE_HEADERS))
    _, repo = _service(settings)
    report = import_rows(rows, repo.policy_map())
    if not dry_run and report.policies:
        repo.upsert_policies(report.policies, f"import:{file.name}", datetime.now(UTC))
    for line in report.lines():
        click.echo(line)
    if not report.policies:
        raise fail("cli.policies.all_rejected", count=len(report.rejected))
    if dry_run:
        click.echo(cli_text("cli.policies.dry_run"))


@policies.command()
@click.option("--enterprise", "enterprise_id", type=int, help="Enterprise id.")
@click.option("--credit-code", help="Unified social credit code (instead of the id).")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 100), help="How many to show (1-100).")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]), help="Match as of this date (default: today).")
@click.pass_context
def match(ctx: click.Context, enterprise_id: int | None, credit_code: str | None, limit: int,
          on: datetime | None) -> None:
    """The best current policies for one enterprise, each with its one-line explanation."""
    service, repo = _service(_settings(ctx), on.date() if on else None)
    if enterprise_id is None and credit_code:
        enterprise_id = repo.enterprise_id_by_credit_code(credit_code)
    if enterprise_id is None:
        raise fail("cli.policies.no_enterprise_given" if not credit_code else "cli.policies.no_such_credit_code",
                   code=credit_code or "")
    profile, found, total = service.matches(enterprise_id, limit)
    if profile is None:
        raise fail("cli.policies.no_such_enterprise", id=enterprise_id)
    click.echo(cli_text("cli.policies.matches", name=profile.name, total=total, day=service.today(),
                        shown=len(found)))
    for n, m in enumerate(found, 1):
        deadline = cli_text("cli.policies.deadline", day=m.policy.deadline, left=m.days_left) \
            if m.policy.deadline else ""
        click.echo(f"{n:>2}. [{m.score:.2f}] {m.policy.id} {m.policy.title}{deadline}\n    {m.explanation()}")


@policies.command()
@click.option("--dry-run", is_flag=True, help="Print who would get what; send nothing.")
@click.pass_context
def digest(ctx: click.Context, dry_run: bool) -> None:
    """This week's digests: print them (--dry-run), or queue them once in the outbox.

    A running `wanqi run` (the lease holder) sends them; when none is running, this command sends
    the outbox itself under the same lease, within the same limits.
    """

    settings = _settings(ctx)
    if dry_run:
        service, _ = _service(settings)
        built = service.digests()
        click.echo(cli_text("cli.policies.digests", week=week_text(service.today()), count=len(built)))
        for d, profile in built:
            click.echo(cli_text("cli.policies.digest_for", user=d.user_id, name=profile.name))
            for m in d.closing:
                click.echo(cli_text("cli.policies.closing", day=m.policy.deadline, id=m.policy.id,
                                    title=m.policy.title))
            for m in d.new:
                click.echo(cli_text("cli.policies.new", id=m.policy.id, title=m.policy.title))
        return
    if not settings.bot_token:
        raise fail("cli.run.no_token")
    asyncio.run(_queue_and_send(settings, click.echo))


async def _queue_and_send(settings: Settings, echo: Callable[[str], None]) -> None:
    from bootstrap import NoClassifier, build_core
    from bot.app import build_bot, build_delivery
    from bot.notifier import Notifier
    from bot.policy_wiring import PolicyDesk
    from bot.render import Renderer
    from bot.runner import LEASE_TTL
    from storage.leases import PRIMARY, new_holder_id

    core = build_core(settings, classifier=NoClassifier())
    services = core.services()
    try:
        report = await PolicyDesk(db=core.db, writer=core.writer, settings=settings).push()
        echo(cli_text("cli.policies.queued", queued=report.queued, skipped=report.skipped))
        holder = new_holder_id()
        if not core.leases.acquire(PRIMARY, holder, LEASE_TTL, clock.time()):
            echo(cli_text("cli.policies.run_sends", holder=core.leases.holder(PRIMARY, clock.time())))
            return
        assert settings.bot_token is not None
        bot = build_bot(settings, settings.bot_token)
        worker = build_delivery(bot, services, Notifier(settings, Renderer(settings)))

        async def keep() -> None:
            while True:
                await asyncio.sleep(LEASE_TTL / 3)
                await core.writer.run(core.leases.acquire, PRIMARY, holder, LEASE_TTL, clock.time())

        keeper = asyncio.create_task(keep())
        try:
            done = await worker.drain()
        finally:
            keeper.cancel()
            worker.close()
            await bot.session.close()
            await core.writer.run(core.leases.release, PRIMARY, holder)
        echo(cli_text("cli.policies.sent", sent=done.sent, failed=done.failed, blocked=done.blocked,
                      recovered=done.recovered, rate=f"{done.rate:.1f}"))
    finally:
        core.close()


@policies.command()
@click.option("--weeks", default=8, show_default=True, type=click.IntRange(1, 520),
              help="How many recent weeks to show (1-520).")
@click.pass_context
def stats(ctx: click.Context, weeks: int) -> None:
    """Weekly digest deliveries per status, most recent week first."""
    from policies import digest as digests
    from storage.outbox import Outbox

    settings = _settings(ctx)
    service, _ = _service(settings)
    store = Outbox(open_data(settings))
    today = service.today()
    def counted(counts: dict[str, int]) -> str:
        return cli_text("cli.policies.comma").join(
            f"{cli_text(f'cli.policies.state.{k}') if has_cli_text(f'cli.policies.state.{k}') else k} {v}"
            for k, v in sorted(counts.items())) or "—"

    for back in range(weeks):
        day = today - timedelta(weeks=back)
        click.echo(cli_text("cli.policies.week_line", week=week_text(day),
                            counts=counted(store.stats(digests.iso_week(day), digests.KIND))))
    click.echo(cli_text("cli.policies.total", counts=counted(store.stats(kind=digests.KIND))))


def week_text(day: date) -> str:
    """The week (Monday to Sunday) holding ``day``, as staff read it: 2026-12-14 至 2026-12-20."""
    from policies import digest as digests

    return digests.week_span(cli_text, digests.iso_week(day))
