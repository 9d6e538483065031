"""Secrets out of stored and logged text: a Bot API token in an error (``…/bot123:ABC…/sendMessage``) is masked."""

from __future__ import annotations

import logging
import re

# A Telegram bot token: the bot's numeric id, a colon, 30+ URL-safe characters (as BotFather issues them).
_TOKEN = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
_MASK = "<token>"


def redact(text: str | None, *secrets: str | None) -> str:
    """``text`` with every bot token (and each of ``secrets``) replaced by a mask."""
    out = text or ""
    for secret in secrets:
        if secret:
            out = out.replace(secret, _MASK)
    return _TOKEN.sub(_MASK, out)


class RedactingFilter(logging.Filter):
    """A handler filter: the formatted message and exception text of every record go out masked."""

    def __init__(self, *secrets: str | None) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, *self.secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            shown = logging.Formatter().formatException(record.exc_info)
            if redact(shown, *self.secrets) != shown:
                record.exc_text = redact(shown, *self.secrets)
                record.exc_info = None  # the handler prints exc_text instead of formatting the live exception
        return True


def install(*secrets: str | None) -> None:
    """Mask tokens in everything the root logger's handlers write (call after logging is configured)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter(*secrets))
