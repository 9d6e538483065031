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
import shlex
import sqlite3
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import click

from storage.errors import DatabaseRefused
from texts import cli_text, set_cli_locale

if TYPE_CHECKING:  # config loads pydantic: imported by the commands that read the settings, not by --version
    from config import ConfigError, Settings

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


def _known_problem(exc: Exception) -> str | None:
    """The line for an expected failure raised by a module a command loaded (checked without importing it:
    a ``config.ConfigError`` can only come from a command that imported ``config``)."""
    config = sys.modules.get("config")
    if config is not None and isinstance(exc, config.ConfigError):
        return config_problem(exc)
    catalogue = sys.modules.get("policies.catalogue")
    if catalogue is not None and isinstance(exc, catalogue.CatalogueError):  # e.g. `wanqi web` on a broken file
        return cli_text("cli.policies.invalid_line", count=len(exc.issues), issues="；".join(map(str, exc.issues)))
    return None


def _param_name(param: click.Parameter) -> str:
    return param.opts[0] if isinstance(param, click.Option) else (param.human_readable_name or "").upper()


def _say_error(line: str) -> None:
    click.echo(" ".join(line.split("\n")), err=True)


def help_text(path: str) -> str | None:
    """The operator's-language help of a command or option (``help.yml``: ``"staff invite"``,
    ``"staff invite --role"``); None in the English locale, whose help is the code's own docstrings."""
    from texts import catalogue, cli_locale

    return catalogue(cli_locale()).get(f"help.{path}")


class LocalHelp:
    """``--help`` in the operator's language: the usage line, the command's text, its options and the
    section titles come from the catalogue (``texts/<locale>/help.yml``) where it has them."""

    help_path = "wanqi"  # "wanqi", "wanqi staff", "wanqi staff invite": set when the command joins its group

    def get_short_help_str(self, limit: int = 45) -> str:
        local = help_text(self.help_path)
        if local:
            return local.strip().split("\n")[0].rstrip("。.")
        return super().get_short_help_str(limit)  # type: ignore[misc, no-any-return]

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        local = help_text(self.help_path)
        if not local:
            super().format_help_text(ctx, formatter)  # type: ignore[misc]
            return
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(local.strip())

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        pieces = self.collect_usage_pieces(ctx)  # type: ignore[attr-defined]
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=cli_text("cli.help.usage"))

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            if not isinstance(param, click.Option):
                continue
            local = help_text(f"{self.help_path} {param.opts[0]}") or (
                help_text(param.opts[0]) if self.help_path == "wanqi" or param.opts[0] == "--help" else None)
            original = param.help
            param.help = local or original
            try:
                row = param.get_help_record(ctx)
            finally:
                param.help = original
            if row is not None:
                rows.append((row[0], _click_words(row[1]) if local else row[1]))
        if rows:
            with formatter.section(cli_text("cli.help.options")):
                formatter.write_dl(rows)


def _click_words(text: str) -> str:
    """Click's own words after an option's help ([required], [default: …]) in the operator's language."""
    return (text.replace("[required]", cli_text("cli.help.required"))
            .replace("[default: ", cli_text("cli.help.default")).replace("; default: ", "; " + cli_text(
                "cli.help.default").lstrip("[")))


class HelpCommand(LocalHelp, click.Command):
    pass


class HelpGroup(LocalHelp, click.Group):
    """A group of commands whose help speaks the operator's language."""

    command_class = HelpCommand

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(cmd, name)
        if isinstance(cmd, LocalHelp):
            cmd.help_path = f"{self.help_path} {name or cmd.name}"

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section(cli_text("cli.help.commands")):
                formatter.write_dl(rows)


HelpGroup.group_class = HelpGroup


class ListenAddress(click.ParamType):  # type: ignore[type-arg]  # generic in newer click stubs only
    """``--listen HOST:PORT``, checked when the command line is read (a usage error, exit 2), before any work.
    ``local`` also requires 127.0.0.1 (the demo's console)."""

    name = "host:port"

    def __init__(self, *, local: bool = False) -> None:
        self.local = local

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from config import split_listen

        try:
            host, _ = split_listen(str(value))
        except ValueError:
            self.fail(cli_text("cli.usage.listen", value=value), param, ctx)
        if self.local and host != "127.0.0.1":
            self.fail(cli_text("cli.demo.console_local", host=host), param, ctx)
        return str(value)


class WanqiGroup(HelpGroup):
    """The root group: runs the command, then maps whatever it raised to one line and an exit status."""

    # Tool groups in modules of their own, imported only when named (``wanqi --help`` shows help.yml's
    # "wanqi <name>" line, or the English summary here), so a command loads what it uses and no more: `wanqi --version`
    # imports neither pydantic nor SQLite, and only `run`, `demo` and `policies digest` load aiogram.
    LAZY: ClassVar[dict[str, tuple[str, str, str]]] = {
        "nlu": ("cli.nlu", "nlu", "Train, score and try the appeal classifier"),
        "policies": ("cli.policies", "policies", "The policy catalogue and the weekly policy push"),
        "inbox": ("cli.inbox", "inbox", "Received Telegram updates: counts, parked ones, another try"),
        "web": ("cli.web", "web_group", "Serve the console and the Open311 API alone"),
        "api-key": ("cli.web", "api_key", "Keys of partner systems for the Open311 API")}
    debug = False
    database = "-"  # the configured database, once the settings are loaded (for database errors)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        WanqiGroup.debug = bool(os.environ.get(ENV_DEBUG))
        WanqiGroup.database = "-"
        set_cli_locale(None)  # until a config says otherwise (WANQI_LANG always wins)
        argv = list(sys.argv[1:] if args is None else args)
        command = " ".join(shlex.quote(a) for a in argv if a != "--debug")  # the hint repeats it, with --debug
        try:
            rv = super().main(argv, prog_name or "wanqi", complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else EXIT_OK
        except click.exceptions.NoArgsIsHelpError as exc:  # `wanqi`, `wanqi staff`: the help, as asked
            click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
            code = EXIT_OK
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
            line = _known_problem(exc)
            if line is None:
                self._trace()
                line = cli_text("cli.error.unexpected", kind=type(exc).__name__, message=str(exc) or "-",
                                command=command)
            _say_error(line)
            code = EXIT_FAILED
        if not standalone_mode:
            return code
        sys.exit(code)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.LAZY})

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of ``wanqi --help`` without importing the tool groups for their one-line help."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:
                local = help_text(f"wanqi {name}")
                rows.append((name, local.strip().split("\n")[0].rstrip("。.") if local else self.LAZY[name][2]))
            elif not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section(cli_text("cli.help.commands")):
                formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.LAZY and cmd_name not in self.commands:
            module, attr, _ = self.LAZY[cmd_name]
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
        from config import load_settings

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


def write_private(out: Path, data: bytes) -> None:
    """Write a file with enterprise data readable by its owner only (0600), an existing one included."""
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as handle:
            fd = -1
            handle.write(data)
    finally:
        if fd >= 0:
            os.close(fd)


def write_xlsx(out: Path, data: bytes) -> None:
    """Write an example workbook (the name must end in .xlsx, the folder must exist) and say so."""
    if out.suffix.lower() != ".xlsx":
        raise fail("cli.error.not_xlsx", path=out)
    _folder_of(out)
    out.write_bytes(data)
    click.echo(cli_text("cli.template.written", path=out))
