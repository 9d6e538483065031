"""Domain errors. Each carries a message key the bot translates for the person who acted."""

from __future__ import annotations


class AppealError(Exception):
    """Base class: ``key`` names the text shown to the user, ``params`` fill it in."""

    key = "error.generic"

    def __init__(self, *args: object, **params: object) -> None:
        super().__init__(*args)
        self.params = params


class InvalidTransition(AppealError):
    key = "error.invalid_transition"

    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"cannot {action} an appeal in state {status}", status=status, action=action)
        self.status = status
        self.action = action


class NotFound(AppealError):
    key = "error.not_found"


class NotAllowed(AppealError):
    key = "error.not_allowed"


class InvalidInput(AppealError):
    """Input a person can correct; ``key`` is set per instance."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key, **params)
        self.key = key
