"""The appeal lifecycle: one transition table, one pure function that enforces it."""

from __future__ import annotations

from enum import StrEnum

from appeals.errors import InvalidTransition


class Status(StrEnum):
    SUBMITTED = "submitted"  # 已受理，待分拨 (dispatcher queue)
    DISPATCHED = "dispatched"  # 已派单，待签收
    ACCEPTED = "accepted"  # 已签收，办理中
    REPLIED = "replied"  # 已答复，待评价
    CLOSED = "closed"  # 已办结
    REOPENED = "reopened"  # 差评重办，待签收
    RETURNED = "returned"  # 已退回，待重新分拨
    WITHDRAWN = "withdrawn"  # 已撤回


class Action(StrEnum):
    DISPATCH = "dispatch"  # 派单 (NLU, dispatcher, or the enterprise correcting the category)
    ACCEPT = "accept"  # 签收
    RETURN = "return"  # 退回 (reason required)
    REPLY = "reply"  # 答复 (the formal answer; the enterprise is asked to rate)
    CLOSE = "close"  # 办结 (by the handler after replying, or unrated after the rating window)
    RATE_GOOD = "rate_good"  # 非常满意 / 满意 / 基本满意
    RATE_POOR = "rate_poor"  # 不满意 / 非常不满意: 差评 -> 重办
    WITHDRAW = "withdraw"  # 撤回 (before a reply)
    REQUEST_EXTENSION = "request_extension"  # 申请延期
    APPROVE_EXTENSION = "approve_extension"
    DENY_EXTENSION = "deny_extension"


S, A = Status, Action

TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (S.SUBMITTED, A.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, A.DISPATCH): S.DISPATCHED,  # corrected category / re-dispatch before 签收
    (S.RETURNED, A.DISPATCH): S.DISPATCHED,
    (S.DISPATCHED, A.ACCEPT): S.ACCEPTED,
    (S.REOPENED, A.ACCEPT): S.ACCEPTED,
    (S.DISPATCHED, A.RETURN): S.RETURNED,
    (S.ACCEPTED, A.RETURN): S.RETURNED,
    (S.REOPENED, A.RETURN): S.RETURNED,
    (S.ACCEPTED, A.REPLY): S.REPLIED,
    (S.REPLIED, A.CLOSE): S.CLOSED,
    (S.REPLIED, A.RATE_GOOD): S.CLOSED,
    (S.REPLIED, A.RATE_POOR): S.REOPENED,
    (S.CLOSED, A.RATE_GOOD): S.CLOSED,  # rating after 办结, once
    (S.CLOSED, A.RATE_POOR): S.REOPENED,
    (S.SUBMITTED, A.WITHDRAW): S.WITHDRAWN,
    (S.DISPATCHED, A.WITHDRAW): S.WITHDRAWN,
    (S.ACCEPTED, A.WITHDRAW): S.WITHDRAWN,
    (S.RETURNED, A.WITHDRAW): S.WITHDRAWN,
    (S.ACCEPTED, A.REQUEST_EXTENSION): S.ACCEPTED,
    (S.ACCEPTED, A.APPROVE_EXTENSION): S.ACCEPTED,
    (S.ACCEPTED, A.DENY_EXTENSION): S.ACCEPTED,
}

TERMINAL: frozenset[Status] = frozenset({S.CLOSED, S.WITHDRAWN})
# States in which a department's clock runs (and SLA alerts apply).
CLOCK_RUNNING: frozenset[Status] = frozenset({S.DISPATCHED, S.ACCEPTED, S.REOPENED})
# The dispatcher's triage queue.
TRIAGE: frozenset[Status] = frozenset({S.SUBMITTED, S.RETURNED})
OPEN: frozenset[Status] = frozenset(set(Status) - TERMINAL)


def next_status(status: Status, action: Action) -> Status:
    """The state ``action`` leads to from ``status``; raises :class:`InvalidTransition` otherwise."""
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidTransition(status.value, action.value) from None


def allowed_actions(status: Status) -> frozenset[Action]:
    return frozenset(a for (s, a) in TRANSITIONS if s is status)
