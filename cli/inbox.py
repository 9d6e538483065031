"""``wanqi inbox``: what the durable intake holds, and another try for updates it parked."""

from __future__ import annotations

from typing import Any

import click

from cli.base import HelpGroup, _settings, fail, open_data
from texts import cli_text


@click.group(cls=HelpGroup)
def inbox() -> None:
    """Received Telegram updates: counts, parked ones, another try."""


def _inbox(ctx: click.Context) -> Any:
    from storage.inbox import Inbox

    return Inbox(open_data(_settings(ctx)))


@inbox.command("list")
@click.pass_context
def list_(ctx: click.Context) -> None:
    """Counts by status, and every parked update with its last error."""
    box = _inbox(ctx)
    counts = box.counts()
    click.echo(cli_text("cli.inbox.counts", pending=counts.get("pending", 0), done=counts.get("done", 0),
                        parked=counts.get("parked", 0)))
    for row in box.parked():
        click.echo(cli_text("cli.inbox.parked", **row))


@inbox.command("retry")
@click.argument("update_ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Every parked update.")
@click.pass_context
def retry(ctx: click.Context, update_ids: tuple[int, ...], every: bool) -> None:
    """Give parked updates new attempts (after their cause was fixed); a running wanqi run takes them up."""
    box = _inbox(ctx)
    wanted = [int(r["update_id"]) for r in box.parked()] if every else list(update_ids)
    missing = [u for u in wanted if not box.requeue(u)]
    if missing:
        raise fail("cli.inbox.not_parked", ids=", ".join(map(str, missing)))
    click.echo(cli_text("cli.inbox.requeued", count=len(wanted)))
