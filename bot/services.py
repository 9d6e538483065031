"""The services handlers receive by name: the async facade built by the composition root (bootstrap)."""

from __future__ import annotations

from bootstrap import Offloaded, Services

__all__ = ["Offloaded", "Services"]
