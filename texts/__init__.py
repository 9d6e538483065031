"""Locale catalogues: every user-facing string, one folder per locale, one YAML file per area.

A key ``k`` in ``zh-CN/appeals.yml`` is looked up as ``t("appeals.k", **params)``; params fill
``str.format`` fields. zh-CN is complete and the default; other locales fall back to it.

Templates are Telegram HTML. ``t(...)`` HTML-escapes every interpolated value (a name like
``<a href=…>`` arrives as text, a ``<`` cannot break the message) and returns :class:`Markup`, which a
further ``t(...)`` interpolates as is. Build fragments with :func:`escape`/``Markup``, never with
f-strings around escaped text. ``t.plain(...)`` is for plain-text places: button labels, callback
alerts, the command line.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape

__all__ = ["DEFAULT", "LOCALES", "Markup", "Translator", "catalogue", "escape", "locale_for", "translator"]

DEFAULT = "zh-CN"
LOCALES = ("zh-CN", "en")
_ROOT = Path(__file__).parent


def _flatten(prefix: str, data: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in data.items():
        full = f"{prefix}.{key}"
        if isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


@cache
def catalogue(locale: str) -> dict[str, str]:
    """All strings of one locale, keys prefixed by their file name."""
    import yaml  # here: `wanqi --version` reads no catalogue

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    out: dict[str, str] = {}
    for path in sorted((_ROOT / locale).glob("*.yml")):
        _flatten(path.stem, yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}, out)
    return out


def locale_for(language_code: str | None) -> str:
    """Telegram's language_code to one of our locales (Chinese unless the user's client is English)."""
    return "en" if (language_code or "").lower().startswith("en") else DEFAULT


class Translator:
    """``t(key, **params)`` for one locale."""

    def __init__(self, locale: str = DEFAULT, *, html: bool = True) -> None:
        self.locale = locale if locale in LOCALES else DEFAULT
        self.html = html
        self._strings = catalogue(self.locale)
        self._default = catalogue(DEFAULT)

    def template(self, key: str) -> str:
        template = self._strings.get(key) or self._default.get(key)
        if template is None:
            raise KeyError(f"no text for {key!r}")
        return template

    def __call__(self, key: str, /, **params: Any) -> Markup:
        """The text as Telegram HTML, every parameter escaped (unless it is Markup already).

        A plain translator (``html=False``, for the command line and spreadsheets) escapes nothing.
        """
        if not self.html:
            return self.plain(key, **params)  # type: ignore[return-value]
        return Markup(self.template(key)).format(**params)

    def plain(self, key: str, /, **params: Any) -> str:
        """The text for plain-text places (buttons, alerts, the command line): nothing escaped."""
        template = self.template(key)
        return template.format(**params) if params else template

    def has(self, key: str) -> bool:
        return key in self._strings or key in self._default


def translator(locale: str | None, *, html: bool = True) -> Translator:
    """The translator of a locale: Telegram HTML by default, plain text for the command line."""
    return _translator(locale or DEFAULT, html)


@cache
def _translator(locale: str, html: bool) -> Translator:
    return Translator(locale, html=html)


# The command line speaks one language: WANQI_LANG (zh… / en…), else the config's center.default_locale.
ENV_LANG = "WANQI_LANG"
_cli_locale: list[str] = [DEFAULT]


def set_cli_locale(locale: str | None) -> None:
    """The config's default locale, once it is loaded (WANQI_LANG still wins)."""
    _cli_locale[0] = locale if locale in LOCALES else DEFAULT


def cli_locale() -> str:
    wanted = os.environ.get(ENV_LANG, "").strip()
    if wanted:
        return "en" if wanted.lower().startswith("en") else DEFAULT
    return _cli_locale[0]


def cli_text(key: str, /, **params: Any) -> str:
    """A line of staff-facing command-line output from ``cli.yml``: ``cli_text("cli.db.backed_up", path=…)``."""
    return translator(cli_locale(), html=False)(key, **params)  # the terminal shows text as is


def has_cli_text(key: str) -> bool:
    return translator(cli_locale(), html=False).has(key)
