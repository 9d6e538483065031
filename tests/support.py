"""Helpers shared by test packages: the repository root and a config.yml pointed at a temporary folder."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, database: str = "wanqi.db") -> Path:
    """The project's config.yml with its database in ``tmp_path`` and the shipped policy catalogue."""
    data = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    data["database"] = str(tmp_path / database)
    data["policies"]["catalogue"] = str(ROOT / "policies" / "catalogue")
    target = tmp_path / "config.yml"
    target.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return target


def create_database(config: Path) -> Path:
    """The database ``config`` names, created and migrated as `wanqi db migrate` would (the data commands
    refuse a database that does not exist yet)."""
    from config import load_settings
    from storage.db import open_db

    settings = load_settings(config, env={})
    path = settings.path(settings.database)
    open_db(path).close()
    return path


def free_port() -> int:
    """A port the OS says is free on 127.0.0.1 now (tests never assume a fixed one)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
