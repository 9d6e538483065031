"""What the web doors share: settings, the async services (whose steps queue their notices in the outbox), the clock."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from appeals.model import Actor
from appeals.ports import Clock
from bootstrap import Services
from config import Settings
from texts import Translator, translator

log = logging.getLogger(__name__)


@dataclass
class WebContext:
    settings: Settings
    services: Services
    clock: Clock
    buckets: dict[str, list[float]] = field(default_factory=dict)  # rate limit: recent call times per caller
    hotspots: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # 热点 groupings by window and its content
    hotspot_texts: dict[tuple[Any, ...], Any] = field(default_factory=dict)  # 热点: a window's texts, by window

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.center.timezone)

    def now(self) -> datetime:
        return self.clock.now()

    def t(self, actor: Actor | None = None) -> Translator:
        """Texts for HTML pages: every interpolated value escaped (Markup)."""
        return translator(actor.lang if actor else None)

    def plain(self) -> Translator:
        """Texts for JSON (the partner API): nothing escaped; use ``.plain(key, ...)``."""
        return translator(None, html=False)

    def allow(self, caller: str, per_minute: int) -> bool:
        """A sliding one-minute window per caller (partner key or address)."""
        now = self.clock.now().timestamp()
        recent = [t for t in self.buckets.get(caller, []) if now - t < 60]
        if len(recent) >= per_minute:
            self.buckets[caller] = recent
            return False
        recent.append(now)
        self.buckets[caller] = recent
        return True


CONTEXT = web.AppKey("wanqi", WebContext)
# What middlewares leave on a request for the handlers.
PARAMS = web.RequestKey("params", dict)  # Open311: query + form/JSON body
API_KEY = web.RequestKey("api_key", object)  # Open311: the caller's ApiKey or None
APPEAL_ID = web.RequestKey("appeal_id", int)  # Open311: the appeal a call touched (for the audit)
ACTOR = web.RequestKey("actor", Actor)  # console: who is logged in
CSRF = web.RequestKey("csrf", str)
SESSION_ID = web.RequestKey("session_id", str)
