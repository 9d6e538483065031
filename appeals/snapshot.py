"""An appeal as it was at one event, as JSON-ready data: the payload a notice is rendered from.

Taken inside the transaction that commits the event, so the message a reader gets later shows the
appeal as it was then, and sending never re-reads history.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from appeals.lifecycle import Status
from appeals.model import Appeal, AppealEvent, Attachment, Enterprise
from appeals.ports import CategoryScore, Entity
from appeals.sla import Light

if TYPE_CHECKING:
    from appeals.service import AppealView

T = TypeVar("T")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _build(cls: type[T], data: dict[str, Any], **nested: Any) -> T:
    """``cls`` from plain data: ISO strings back to datetimes in fields typed as datetimes."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name in nested:
            value = nested[f.name](value)
        elif isinstance(value, str) and "datetime" in str(f.type):
            value = datetime.fromisoformat(value)
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return cls(**values)


def dump_view(view: AppealView) -> dict[str, Any]:
    """The view as JSON-ready data."""
    return {"appeal": _plain(view.appeal), "enterprise": _plain(view.enterprise),
            "events": _plain(list(view.events)), "light": view.light.value if view.light else None}


def load_view(data: dict[str, Any]) -> AppealView:
    """The view :func:`dump_view` wrote."""
    from appeals.service import AppealView

    appeal = _build(Appeal, data["appeal"], status=Status,
                    ranking=lambda xs: tuple(CategoryScore(**x) for x in xs),
                    entities=lambda xs: tuple(Entity(**x) for x in xs),
                    attachments=lambda xs: tuple(Attachment(**x) for x in xs))
    enterprise = _build(Enterprise, data["enterprise"])
    events = tuple(_build(AppealEvent, e) for e in data["events"])
    light = Light(data["light"]) if data.get("light") else None
    return AppealView(appeal, enterprise, events, light)
