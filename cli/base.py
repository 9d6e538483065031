"""What every ``wanqi`` command shares: the root group that turns exceptions into one line and an exit status,
the settings of the command line, and the one-line failures.

Every expected failure ends as ONE line on stderr in the operator's language and a non-zero exit status:
0 ok, 1 failed, 2 usage (a wrong option or argument), 130 interrupted. ``WanqiGroup.main`` is the one place
that turns exceptions into those lines; commands raise ``Failure`` (or ``click.ClickException``),
``ConfigError``, ``OSError`` or ``sqlite3.Error`` and never print a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import click

from config import ConfigError, Settings, load_settings
from storage.errors import DatabaseRefused
from texts import cli_text, set_cli_locale

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
OWN_MODULES = frozenset({"appeals", "bootstrap", "bot", "cli", "config", "demo", "nlu", "policies", "reports",
                         "storage", "texts", "web"})
ENV_DEBUG = "WANQI_DEBUG"


class Failure(click.ClickException):
    """An expected failure: its message is already one line in the operator's language."""

    exit_code = EXIT_FAILED


def fail(key: str, /, **params: Any) -> Failure:
    """``raise fail("cli.error.no_database", path=…)``: a ``Failure`` from the cli.yml catalogue."""
    return Failure(cli_text(key, **params))


def config_problem(exc: ConfigError) -> str:
    """A ``ConfigError`` as one line: where, which key, what is wrong (in the operator's language)."""
    try:
        problem = cli_text(f"cli.config.{exc.kind}", **exc.ctx)
    except (KeyError, IndexError):
        problem = exc.message
    source = exc.source if exc.source != "packaged default config" else cli_text("cli.error.packaged")
    return cli_text("cli.error.config", source=source, key=f"{exc.key}：" if exc.key else "", problem=problem)


def usage_problem(exc: click.UsageError) -> str:
    """Click's usage errors in the operator's language where we know their shape; click's words otherwise."""
    if isinstance(exc, click.MissingParameter) and exc.param is not None:
        return cli_text("cli.usage.missing", name=_param_name(exc.param))
    if isinstance(exc, click.NoSuchOption):
        return cli_text("cli.usage.no_option", name=exc.option_name)
    if isinstance(exc, click.BadParameter) and exc.param is not None:
        kind, problem = exc.param.type, " ".join(exc.message.split())
        if isinstance(kind, click.Choice):
            problem = cli_text("cli.usage.choose", choices=", ".join(map(str, kind.choices)))
        elif isinstance(kind, click.IntRange | click.FloatRange) and kind.min is not None and kind.max is not None:
            problem = cli_text("cli.usage.range", min=kind.min, max=kind.max)
        elif isinstance(kind, click.IntRange | click.FloatRange) and kind.min is not None:
            problem = cli_text("cli.usage.at_least", min=kind.min)
        return cli_text("cli.usage.bad_value", name=_param_name(exc.param), problem=problem)
    message = " ".join(exc.format_message().split())
    if message.startswith("No such command"):
        return cli_text("cli.usage.no_command", name=message.split("'")[1] if "'" in message else message)
    return message


def _param_name(param: click.Parameter) -> str:
    return param.opts[0] if isinstance(param, click.Option) else (param.human_readable_name or "").upper()


def _say_error(line: str) -> None:
    click.echo(" ".join(line.split("\n")), err=True)


class WanqiGroup(click.Group):
    """The root group: runs the command, then maps whatever it raised to one line and an exit status."""

    # commands of the adapters that import this module themselves: loaded when asked for, so the bot's
    # tools neither load the web side nor depend on it being installed
    LAZY: ClassVar[dict[str, tuple[str, str]]] = {"web": ("cli.web", "web_group"), "api-key": ("cli.web", "api_key")}
    debug = False
    database = "-"  # the configured database, once the settings are loaded (for database errors)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        WanqiGroup.debug = bool(os.environ.get(ENV_DEBUG))
        WanqiGroup.database = "-"
        set_cli_locale(None)  # until a config says otherwise (WANQI_LANG always wins)
        argv = list(sys.argv[1:] if args is None else args)
        command = " ".join(["wanqi", *[a for a in argv[:2] if not a.startswith("-")]])
        try:
            rv = super().main(argv, prog_name or "wanqi", complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else EXIT_OK
        except click.UsageError as exc:
            where = " ".join(["wanqi", *exc.ctx.command_path.split()[1:]]) if exc.ctx is not None else "wanqi"
            _say_error(cli_text("cli.error.usage", message=usage_problem(exc), command=where))
            code = EXIT_USAGE
        except click.ClickException as exc:
            message = exc.format_message()
            _say_error(message if isinstance(exc, Failure) else cli_text("cli.error.prefix", message=message))
            code = exc.exit_code
        except (click.Abort, KeyboardInterrupt):
            _say_error(cli_text("cli.error.interrupted"))
            code = EXIT_INTERRUPTED
        except ConfigError as exc:
            _say_error(config_problem(exc))
            code = EXIT_FAILED
        except DatabaseRefused as exc:
            _say_error(cli_text(exc.key, **exc.params))
            code = EXIT_FAILED
        except OSError as exc:
            problem = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc.strerror or exc)
            self._trace()
            _say_error(cli_text("cli.error.file", problem=problem))
            code = EXIT_FAILED
        except sqlite3.Error as exc:
            self._trace()
            _say_error(cli_text("cli.error.database", path=WanqiGroup.database, problem=str(exc)))
            code = EXIT_FAILED
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in OWN_MODULES:
                raise
            self._trace()  # an install made before this module existed (e.g. `git pull` without re-installing)
            _say_error(cli_text("cli.error.stale_install", module=exc.name))
            code = EXIT_FAILED
        except Exception as exc:
            self._trace()
            _say_error(cli_text("cli.error.unexpected", kind=type(exc).__name__, message=str(exc) or "-",
                                command=command))
            code = EXIT_FAILED
        if not standalone_mode:
            return code
        sys.exit(code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            module, attr = self.LAZY[cmd_name]
            self.add_command(getattr(importlib.import_module(module), attr), cmd_name)
        return super().get_command(ctx, cmd_name)

    @staticmethod
    def _trace() -> None:
        if WanqiGroup.debug:
            traceback.print_exc(file=sys.stderr)


def _set_debug(_ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        WanqiGroup.debug = True
    return value



def _settings(ctx: click.Context) -> Settings:
    """The settings, loaded and validated once per command (any problem is one ConfigError line)."""
    root = ctx.find_root()
    obj = root.obj if isinstance(root.obj, dict) else {}
    if "settings" not in obj:
        settings = load_settings(obj.get("config_path"))
        set_cli_locale(settings.center.default_locale)
        WanqiGroup.database = str(settings.path(settings.database))
        obj["settings"] = settings
    return obj["settings"]  # type: ignore[no-any-return]


def _existing_database(settings: Settings) -> Path:
    """The configured database, which must exist (a mistyped path must not create an empty one)."""
    path = settings.path(settings.database)
    if not path.is_file():
        raise fail("cli.error.no_database", path=path)
    return path


def open_data(settings: Settings) -> Any:
    """The center's database for a command that reads or changes its data: opened (and migrated) only if
    it exists. Only ``run``, ``web``, ``db migrate``, ``db restore``, ``demo`` and ``init`` create one."""
    from storage.db import open_db

    return open_db(settings.path(settings.database), create=False)


def _folder_of(target: Path) -> None:
    if not target.parent.resolve().is_dir():
        raise fail("cli.error.no_folder", path=target.parent)


def write_xlsx(out: Path, data: bytes) -> None:
    """Write an example workbook (the name must end in .xlsx, the folder must exist) and say so."""
    if out.suffix.lower() != ".xlsx":
        raise fail("cli.error.not_xlsx", path=out)
    _folder_of(out)
    out.write_bytes(data)
    click.echo(cli_text("cli.template.written", path=out))
