"""One place that turns domain errors into polite answers; other failures go back to the inbox to retry."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent

from appeals.errors import AppealError, InvalidTransition
from texts import Translator, translator

log = logging.getLogger(__name__)


def router() -> Router:
    r = Router(name="errors")
    r.errors.register(domain_error, ExceptionTypeFilter(AppealError))
    # Anything else propagates to the inbox (bot/intake.py): retried, then parked with a polite answer.
    return r


def _params(exc: AppealError, t: Translator) -> dict[str, object]:
    params = dict(exc.params)
    if isinstance(exc, InvalidTransition):
        params["status_label"] = t(f"status.{exc.status}")
        params["action_label"] = t(f"action.{exc.action}")
    return params


async def _answer(event: ErrorEvent, text: str, alert: str | None = None) -> None:
    """``text`` (HTML) answers a message; a button press gets ``alert``, plain text (Telegram shows it as is)."""
    update = event.update
    if update.callback_query is not None:
        await update.callback_query.answer((alert or text)[:200], show_alert=True)
    elif update.message is not None:
        await update.message.answer(text)


async def domain_error(event: ErrorEvent, t: Translator | None = None) -> None:
    """Nothing was changed: tell the person why, in their language."""
    t = t or translator(None)
    exc = event.exception
    assert isinstance(exc, AppealError)
    log.info("update %s refused: %s", event.update.update_id, type(exc).__name__)
    try:
        params = _params(exc, t)
        text, alert = t(exc.key, **params), t.plain(exc.key, **params)
    except (KeyError, IndexError):
        text = alert = t("error.generic")
    await _answer(event, text, alert)

