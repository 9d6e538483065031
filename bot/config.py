"""Settings: config.yml for the center's non-secret settings, environment for secrets."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from appeals.routing import Category, Routing
from appeals.sla import SlaPolicy

ENV_TOKEN = "WANQI_BOT_TOKEN"
ENV_SUPERVISORS = "WANQI_SUPERVISORS"
ENV_API_BASE = "WANQI_API_BASE"
ENV_DATABASE = "WANQI_DATABASE"


@dataclass(frozen=True)
class CenterSettings:
    name: str = "肇庆市万企诉求服务中心"
    short_name: str = "万企诉求"
    appeal_prefix: str = "ZQ"
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh-CN"


@dataclass(frozen=True)
class TelegramSettings:
    api_base: str = "https://api.telegram.org"
    polling_timeout: int = 30


@dataclass(frozen=True)
class NluSettings:
    backend: str = "spacy"
    model_dir: str = "models/appeals"
    train_data: str = "nlu/data/train"
    threshold: float | None = None   # None: the model's own (chosen at training, stored with it)
    target_precision: float = 0.95   # training picks the threshold that reaches this out-of-fold precision
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout: float = 5.0


@dataclass(frozen=True)
class PolicySettings:
    catalogue: str = "policies/catalogue"
    digest_cron: str = "0 9 * * mon"
    deadline_window_days: int = 14
    max_per_digest: int = 5


@dataclass(frozen=True)
class PushSettings:
    """The delivery worker's limits (every outgoing message goes through it)."""

    messages_per_second: float = 30
    per_chat_interval: float = 1.0
    max_retries: int = 30  # attempts on 429/5xx/network errors before a message is marked failed
    backoff_max: float = 60.0  # seconds: the retry back-off doubles from 0.5 s up to this


@dataclass(frozen=True)
class JobSettings:
    """Scheduled jobs: a run missed while the bot was down is made up at start-up within the grace."""

    daily_digest_cron: str = "30 8 * * mon-fri"
    missed_run_grace_hours: float = 12.0


@dataclass(frozen=True)
class StaffSettings:
    invite_days: int = 7  # an unused invite code expires after this many days


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
    staff: StaffSettings = field(default_factory=StaffSettings)

    def path(self, value: str) -> Path:
        """A path from the settings, relative to the config file's folder unless absolute."""
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p


def _section(cls: type, data: dict[str, Any] | None) -> Any:
    known = cls.__dataclass_fields__
    return cls(**{k: v for k, v in (data or {}).items() if k in known})


def parse_supervisors(raw: str | None) -> frozenset[int]:
    """``WANQI_SUPERVISORS``: comma-separated Telegram ids; anything else is a configuration error."""
    ids = set()
    for part in (raw or "").replace("，", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.lstrip("-").isdigit():
            raise ValueError(f"{ENV_SUPERVISORS}: '{part}' is not a Telegram user id")
        ids.add(int(part))
    return frozenset(ids)


def load_settings(path: str | Path = "config.yml", env: dict[str, str] | None = None) -> Settings:
    """Read config.yml, then apply the environment (token, supervisors, API base, database)."""
    env = dict(os.environ) if env is None else env
    path = Path(path)
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    departments = {d["id"]: d["name"] for d in data.get("departments", [])}
    sla = SlaPolicy(**(data.get("sla") or {}))
    categories = tuple(
        Category(
            id=c["id"], name=c["name"], department_id=c.get("department"),
            reply_days=(c.get("sla") or {}).get("reply_days", sla.reply_days),
            accept_days=(c.get("sla") or {}).get("accept_days", sla.accept_days),
        )
        for c in data.get("categories", [])
    )
    for c in categories:
        if c.department_id is not None and c.department_id not in departments:
            raise ValueError(f"{path}: category {c.id} names unknown department {c.department_id}")
    nlu = _section(NluSettings, data.get("nlu"))
    telegram = _section(TelegramSettings, data.get("telegram"))
    if env.get(ENV_API_BASE):
        telegram = TelegramSettings(api_base=env[ENV_API_BASE], polling_timeout=telegram.polling_timeout)
    return Settings(
        center=_section(CenterSettings, data.get("center")),
        database=env.get(ENV_DATABASE) or data.get("database", "wanqi.db"),
        telegram=telegram,
        departments=departments,
        routing=Routing(categories=categories,
                        threshold=None if nlu.threshold is None else float(nlu.threshold)),
        sla=sla,
        nlu=nlu,
        policies=_section(PolicySettings, data.get("policies")),
        push=_section(PushSettings, data.get("push")),
        jobs=_section(JobSettings, data.get("jobs")),
        bot_token=env.get(ENV_TOKEN) or None,
        supervisors=parse_supervisors(env.get(ENV_SUPERVISORS)),
        base_dir=path.resolve().parent,
        staff=_section(StaffSettings, data.get("staff")),
    )
