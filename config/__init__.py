"""Settings: the center's config.yml (or the packaged default) validated as a whole, then the environment.

Where the file comes from: ``--config FILE``, else ``WANQI_CONFIG``, else ``./config.yml``, else the default
shipped inside the package (``config/default_config.yml``). Relative paths in a config file are relative to
that file's folder; the database and the trained model go to ``data_dir`` (default: the per-user data
folder, e.g. ``~/.local/share/wanqi``). The environment overrides the file: ``WANQI_SECTION__KEY``
(e.g. ``WANQI_NLU__THRESHOLD=0.6``), the flat names in ``ENV_ALIASES``, and the env-only secrets
``WANQI_BOT_TOKEN`` and ``WANQI_SUPERVISORS``.

To add a section: a frozen pydantic dataclass with defaults, one field on ``_File`` and the same field on
``Settings``; values are copied by name.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.dataclasses import dataclass as section
from pydantic_core import PydanticCustomError

from appeals.routing import Category, Routing
from appeals.sla import SlaPolicy

ENV_PREFIX = "WANQI_"
ENV_CONFIG = "WANQI_CONFIG"
ENV_TOKEN = "WANQI_BOT_TOKEN"
ENV_SUPERVISORS = "WANQI_SUPERVISORS"
ENV_API_BASE = "WANQI_API_BASE"
ENV_DATABASE = "WANQI_DATABASE"
ENV_DATA_DIR = "WANQI_DATA_DIR"
ENV_WEB_LISTEN = "WANQI_WEB_LISTEN"
# Flat environment names kept for operators (each -> a dotted config key). Add yours here.
ENV_ALIASES: dict[str, str] = {
    ENV_API_BASE: "telegram.api_base",
    ENV_DATABASE: "database",
    ENV_DATA_DIR: "data_dir",
    ENV_WEB_LISTEN: "web.listen",
}
# Paths given in the environment are relative to the working directory, like any command-line path.
_ENV_PATHS = {"database", "data_dir"}

# The folder holding bot/, nlu/, policies/: the checkout, or site-packages once installed.
PACKAGE_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = Path(__file__).resolve().parent / "default_config.yml"
SHIPPED_TRAIN_DATA = PACKAGE_ROOT / "nlu" / "data" / "train"
SHIPPED_CATALOGUE = PACKAGE_ROOT / "policies" / "catalogue"
LOCALES = ("zh-CN", "en")

_STRICT = ConfigDict(extra="forbid")


class ConfigError(ValueError):
    """One problem in the settings, naming where it is (file or variable), the key and what is wrong.

    ``kind`` is pydantic's error type (or our own: ``file_missing``, ``yaml``, ``not_mapping``, ``value_error``);
    the CLI renders it in the operator's language from ``kind`` and ``ctx``; ``str()`` is the English line.
    """

    def __init__(self, source: str, key: str, kind: str, message: str, ctx: dict[str, Any] | None = None) -> None:
        self.source, self.key, self.kind, self.message, self.ctx = source, key, kind, message, dict(ctx or {})
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {message}")


@section(frozen=True, config=_STRICT)
class CenterSettings:
    name: str = "肇庆市万企诉求服务中心"
    short_name: str = "万企诉求"
    appeal_prefix: str = Field(default="ZQ", pattern=r"^[A-Za-z]{1,6}$")
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh-CN"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError("timezone", "unknown timezone '{value}' (an IANA name such as Asia/Shanghai)",
                                      {"value": value}) from None
        return value

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in LOCALES:
            raise PydanticCustomError("locale", "unknown locale '{value}' (one of {known})",
                                      {"value": value, "known": ", ".join(LOCALES)})
        return value


@section(frozen=True, config=_STRICT)
class TelegramSettings:
    api_base: str = Field(default="https://api.telegram.org", pattern=r"^https?://\S+$")
    polling_timeout: int = Field(default=30, ge=0, le=600)


@section(frozen=True, config=_STRICT)
class NluSettings:
    backend: str = "embedded"
    model_dir: str = "models/appeals"  # relative to data_dir
    train_data: str = ""  # empty: the training data shipped with the package
    # An override of the model's own auto-routing threshold; empty: the model's.
    threshold: float | None = Field(default=None, ge=0, le=1)
    # Training picks the threshold that reaches this out-of-fold precision.
    target_precision: float = Field(default=0.95, gt=0, le=1)
    rasa_url: str = Field(default="http://127.0.0.1:5005", pattern=r"^https?://\S+$")
    rasa_timeout: float = Field(default=5.0, gt=0, le=120)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if value not in ("embedded", "spacy", "rasa"):
            raise PydanticCustomError("backend", "unknown backend '{value}' (embedded or rasa)", {"value": value})
        return "embedded" if value == "spacy" else value  # the embedded backend's earlier name (no spaCy runs)

    @field_validator("train_data", "model_dir", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return "" if value is None else value


@section(frozen=True, config=_STRICT)
class PolicySettings:
    catalogue: str = ""  # empty: the sample catalogue shipped with the package
    digest_cron: str = "0 9 * * mon"
    deadline_window_days: int = Field(default=14, ge=0, le=366)
    max_per_digest: int = Field(default=5, ge=1, le=50)

    @field_validator("catalogue", mode="before")
    @classmethod
    def _empty_is_default(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("digest_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError:
            raise PydanticCustomError("cron", "'{value}' is not a cron expression (minute hour day month weekday)",
                                      {"value": value}) from None
        return value


@section(frozen=True, config=_STRICT)
class PushSettings:
    """The delivery worker's limits (every outgoing message goes through it)."""

    messages_per_second: float = Field(default=30, gt=0, le=1000)
    per_chat_interval: float = Field(default=1.0, ge=0, le=60)
    # attempts on 429/5xx/network errors before a message is marked failed
    max_retries: int = Field(default=30, ge=1, le=1000)
    backoff_max: float = Field(default=60.0, gt=0, le=3600)  # seconds: the back-off doubles from 0.5 s up to this


@section(frozen=True, config=_STRICT)
class JobSettings:
    """Scheduled jobs: a run missed while the bot was down is made up at start-up within the grace."""

    daily_digest_cron: str = "30 8 * * mon-fri"
    missed_run_grace_hours: float = Field(default=12.0, ge=0, le=24 * 7)

    @field_validator("daily_digest_cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return PolicySettings._valid_cron(value)


@section(frozen=True, config=_STRICT)
class StaffSettings:
    invite_days: int = Field(default=7, ge=1, le=365)  # an unused invite code expires after this many days


def split_listen(listen: str, *, any_port: bool = False) -> tuple[str, int]:
    """``host:port`` (``[::1]:8080`` for IPv6) as (host, port); ValueError unless the port is 1-65535
    (or 0 with ``any_port``: the OS picks a free one, as tests ask)."""
    host, _, port = listen.strip().rpartition(":")
    host = host.strip("[]")
    low = 0 if any_port else 1
    if not host or any(c.isspace() for c in host) or not port.isdigit() or not low <= int(port) <= 65535:
        raise ValueError(f"{listen!r} is not host:port with a port of 1-65535 (e.g. 127.0.0.1:8080)")
    return host, int(port)


@section(frozen=True, config=_STRICT)
class WebSettings:
    """The console and the Open311 API (served by `wanqi run` and `wanqi web`)."""

    listen: str = "127.0.0.1:8080"  # host:port; env WANQI_WEB_LISTEN
    public_url: str = ""  # how staff reach it (login links); empty: http://<listen>
    enabled: bool = True  # served inside `wanqi run`
    api_rate_per_minute: int = Field(default=600, ge=1, le=100_000)  # per partner key (and per address)
    session_hours: int = Field(default=12, ge=1, le=24 * 30)

    @field_validator("listen")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            split_listen(value, any_port=True)  # 0: any free port (tests)
        except ValueError:
            raise PydanticCustomError("listen", "'{value}' is not host:port with a port of 1-65535",
                                      {"value": value}) from None
        return value

    def base_url(self) -> str:
        return (self.public_url or f"http://{self.listen}").rstrip("/")


class _Department(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = Field(min_length=1)


class _CategorySla(BaseModel):
    model_config = _STRICT
    accept_days: int | None = Field(default=None, ge=0, le=60)
    reply_days: int | None = Field(default=None, ge=1, le=365)


class _Category(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = Field(min_length=1)
    department: str | None = None
    sla: _CategorySla = _CategorySla()


class _Sla(BaseModel):
    model_config = _STRICT
    accept_days: int = Field(default=1, ge=0, le=60)
    reply_days: int = Field(default=5, ge=1, le=365)
    extension_max_days: int = Field(default=5, ge=0, le=365)
    rating_days: int = Field(default=3, ge=1, le=60)
    yellow_ratio: float = Field(default=0.8, gt=0, lt=1)
    supervise_interval_hours: int = Field(default=24, ge=0, le=24 * 30)


class _File(BaseModel):
    """The shape of config.yml (after the environment is applied)."""

    model_config = _STRICT
    center: CenterSettings = CenterSettings()
    data_dir: str | None = None
    database: str = Field(default="wanqi.db", min_length=1)
    telegram: TelegramSettings = TelegramSettings()
    departments: list[_Department] = []
    categories: list[_Category] = []
    sla: _Sla = _Sla()
    nlu: NluSettings = NluSettings()
    policies: PolicySettings = PolicySettings()
    push: PushSettings = PushSettings()
    jobs: JobSettings = JobSettings()
    staff: StaffSettings = StaffSettings()
    web: WebSettings = WebSettings()

    @model_validator(mode="after")
    def _references(self) -> _File:
        ids = [d.id for d in self.departments]
        for n, d in enumerate(self.departments):
            if d.id in ids[:n]:
                raise PydanticCustomError("duplicate_id", "'{value}' appears twice",
                                          {"key": f"departments[{n}].id", "value": d.id})
        seen: set[str] = set()
        for n, c in enumerate(self.categories):
            if c.id in seen:
                raise PydanticCustomError("duplicate_id", "'{value}' appears twice",
                                          {"key": f"categories[{n}].id", "value": c.id})
            seen.add(c.id)
            if c.department is not None and c.department not in ids:
                raise PydanticCustomError(
                    "unknown_department", "category {category} names unknown department '{value}' (known: {known})",
                    {"key": f"categories[{n}].department", "category": c.id, "value": c.department,
                     "known": ", ".join(ids) or "-"})
        return self


@dataclass(frozen=True)
class Settings:
    center: CenterSettings
    database: str
    telegram: TelegramSettings
    departments: dict[str, str]  # id -> name
    routing: Routing
    sla: SlaPolicy
    nlu: NluSettings
    policies: PolicySettings
    push: PushSettings
    jobs: JobSettings = field(default_factory=JobSettings)
    bot_token: str | None = field(default=None, repr=False)
    supervisors: frozenset[int] = frozenset()
    base_dir: Path = Path(".")
    data_dir: Path = Path(".")
    source: str = ""  # the config file read (or "packaged default config")
    staff: StaffSettings = field(default_factory=StaffSettings)
    web: WebSettings = field(default_factory=WebSettings)

    def path(self, value: str | Path) -> Path:
        """A path from the settings, relative to the config file's folder unless absolute."""
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p


def parse_supervisors(raw: str | None) -> frozenset[int]:
    """``WANQI_SUPERVISORS``: comma-separated Telegram ids; anything else is a configuration error."""
    ids = set()
    for part in (raw or "").replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 0 < int(part) < 2**52:  # Telegram user ids have at most 52 bits
            raise ConfigError(ENV_SUPERVISORS, "", "supervisor_id",
                              f"'{part}' is not a Telegram user id (comma-separated numbers)", {"value": part})
        ids.add(int(part))
    return frozenset(ids)


def find_config(explicit: str | Path | None = None, env: dict[str, str] | None = None) -> Path:
    """The config file to read: explicit, ``WANQI_CONFIG``, ``./config.yml``, else the packaged default."""
    env = dict(os.environ) if env is None else env
    for source, given in (("--config", explicit), (ENV_CONFIG, env.get(ENV_CONFIG))):
        if given:
            path = Path(given).expanduser()
            if not path.is_file():
                raise ConfigError(source, "", "file_missing", f"no such file: {path}", {"path": str(path)})
            return path
    local = Path("config.yml")
    return local if local.is_file() else DEFAULT_CONFIG


def default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("wanqi", appauthor=False))


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file_missing", f"no such file: {path}", {"path": str(path)}) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", "unreadable", f"cannot read: {exc}", {"error": str(exc)}) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(str(path), "", "yaml", f"not valid YAML (line {line}: {problem})",
                          {"line": line, "problem": problem}) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(str(path), "", "not_mapping", f"must be a mapping of settings, not {type(data).__name__}",
                          {"type": type(data).__name__})
    return data


def _apply_env(data: dict[str, Any], env: dict[str, str]) -> dict[str, str]:
    """Put ``WANQI_SECTION__KEY`` and the flat aliases into ``data``; returns dotted key -> variable name."""
    origin: dict[str, str] = {}
    for name, value in env.items():
        if name in ENV_ALIASES:
            dotted = ENV_ALIASES[name]
        elif name.startswith(ENV_PREFIX) and "__" in name:
            dotted = ".".join(part.lower() for part in name[len(ENV_PREFIX):].split("__"))
        else:
            continue
        if value == "":
            continue
        *parents, leaf = dotted.split(".")
        target = data
        for part in parents:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        if dotted in _ENV_PATHS:
            value = str(Path(value).expanduser().absolute())
        target[leaf] = value
        origin[dotted] = name
    return origin


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _first_error(exc: ValidationError, source: str, origin: dict[str, str]) -> ConfigError:
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if p != "__root__")
    key = _dotted(loc)
    message, kind = err["msg"], err["type"]
    ctx = {k: v for k, v in (err.get("ctx") or {}).items() if k != "error"}
    key = str(ctx.pop("key", key))  # cross-field checks name their own key
    if "value" not in ctx and "input" in err and not isinstance(err["input"], dict | list):
        message += f" (got {err['input']!r})"
        ctx["input"] = err["input"]
    return ConfigError(origin.get(key, source), key, kind, message, ctx)


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read and validate the config file as a whole, apply the environment; any problem is a ``ConfigError``.

    ``path=None`` finds the file (see ``find_config``); ``env=None`` reads ``os.environ``.
    """
    env = dict(os.environ) if env is None else env
    file = Path(path).expanduser() if path is not None else find_config(None, env)
    packaged = file.resolve() == DEFAULT_CONFIG
    source = "packaged default config" if packaged else str(file)
    data = _read_yaml(file)
    origin = _apply_env(data, env)
    try:
        raw = _File.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, source, origin) from None
    base_dir = PACKAGE_ROOT if packaged else file.resolve().parent
    data_dir = (base_dir / Path(raw.data_dir).expanduser()).resolve() if raw.data_dir else default_data_dir()
    # Nothing is created here: the commands that create a database (run, web, db migrate, demo) make its
    # folder; the others refuse one that does not exist, so a mistyped WANQI_DATA_DIR creates nothing.

    def under(folder: Path, value: str) -> str:
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else folder / p)

    database = Path(under(data_dir, raw.database))
    # a path someone typed must exist; data_dir is ours to fill
    typed = "database" in origin or Path(raw.database).expanduser().is_absolute()
    if typed and not database.parent.is_dir():
        raise ConfigError(origin.get("database", source), "database", "folder_missing",
                          f"the folder {database.parent} does not exist", {"path": str(database.parent)})

    nlu = dataclasses.replace(
        raw.nlu, model_dir=under(data_dir, raw.nlu.model_dir or "models/appeals"),
        train_data=under(base_dir, raw.nlu.train_data) if raw.nlu.train_data else str(SHIPPED_TRAIN_DATA))
    policies = dataclasses.replace(
        raw.policies,
        catalogue=under(base_dir, raw.policies.catalogue) if raw.policies.catalogue else str(SHIPPED_CATALOGUE))
    sla = SlaPolicy(**raw.sla.model_dump())
    categories = tuple(
        Category(id=c.id, name=c.name, department_id=c.department,
                 accept_days=sla.accept_days if c.sla.accept_days is None else c.sla.accept_days,
                 reply_days=sla.reply_days if c.sla.reply_days is None else c.sla.reply_days)
        for c in raw.categories)
    common = {f.name: getattr(raw, f.name) for f in dataclasses.fields(Settings) if f.name in _File.model_fields}
    common.update(
        database=str(database), departments={d.id: d.name for d in raw.departments},
        routing=Routing(categories=categories, threshold=raw.nlu.threshold), sla=sla, nlu=nlu, policies=policies,
        bot_token=env.get(ENV_TOKEN) or None, supervisors=parse_supervisors(env.get(ENV_SUPERVISORS)),
        base_dir=base_dir, data_dir=data_dir, source=source)
    return Settings(**common)
