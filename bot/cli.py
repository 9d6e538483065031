"""The ``wanqi`` command line: demo, run, staff, db, and the nlu and policies tool groups."""

from __future__ import annotations

import click


@click.group()
@click.option("--config", "config_path", default="config.yml", show_default=True,
              help="The center's settings file.")
@click.pass_context
def main(ctx: click.Context, config_path: str) -> None:
    """万企诉求助手 (Wanqi): the enterprise appeal bot and its tools."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


# Tool groups living next to what they operate on. Each helper adds its line here.
main.add_command(__import__("nlu.cli", fromlist=["nlu"]).nlu)  # wanqi nlu ...
