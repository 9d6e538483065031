"""Refusals of the storage layer that an operator must read: a key of the cli catalogue and its values.

Kept free of imports so the command line can catch them without loading SQLite code.
"""

from __future__ import annotations


class DatabaseRefused(Exception):
    """The database was not opened, backed up or restored; nothing was changed.

    ``key`` names the reason in ``texts/*/cli.yml`` (``cli.db.…``), ``params`` fill it.
    """

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params
