"""An appeal routed to a department with no active handler goes to the dispatchers (or the supervisors
when there are none), with that reason on the card; they can re-dispatch it."""

from __future__ import annotations

from tests.bot.harness import SUPERVISOR, Harness, Role

ENT, DISPATCHER, TAX_HANDLER, FINANCE_HANDLER = 101, 301, 201, 202
REASON = "市税务局目前没有在岗的承办人"


async def test_the_card_goes_to_the_dispatcher_with_the_reason(h: Harness) -> None:
    await h.register(ENT)
    await h.join(DISPATCHER, Role.DISPATCHER)
    await h.join(FINANCE_HANDLER, Role.HANDLER, "finance")
    appeal_id, sent = await h.file(ENT, "数电发票开不出来，已经影响发货")  # tax: nobody there
    assert h.one("SELECT status, department_id FROM appeals WHERE id = ?", [appeal_id]) == {
        "status": "dispatched", "department_id": "tax"}
    card = [s for s in h.to(DISPATCHER, sent) if "数电发票" in s.text]
    assert len(card) == 1 and REASON in card[0].text
    assert card[0].buttons[-1][0] == "其他分类…"
    assert not any("派至 税费与发票" in label for label, _ in card[0].buttons)  # not back where nobody is
    assert h.to(SUPERVISOR, sent) == [] and h.to(FINANCE_HANDLER, sent) == []

    # the dispatcher re-dispatches it to a department with a handler, who gets the card
    sent = await h.act(DISPATCHER, "dispto", appeal_id, "finance")
    assert h.one("SELECT department_id FROM appeals WHERE id = ?", [appeal_id])["department_id"] == "finance"
    assert any("数电发票" in s.text for s in h.to(FINANCE_HANDLER, sent))


async def test_without_dispatchers_the_supervisors_are_told(h: Harness) -> None:
    await h.register(ENT)
    _, sent = await h.file(ENT, "数电发票开不出来，已经影响发货")
    card = [s for s in h.to(SUPERVISOR, sent) if "数电发票" in s.text]
    assert len(card) == 1 and REASON in card[0].text


async def test_a_staffed_department_gets_its_card_and_the_dispatcher_may_not_take_it(h: Harness) -> None:
    await h.register(ENT)
    await h.join(DISPATCHER, Role.DISPATCHER)
    await h.join(TAX_HANDLER, Role.HANDLER, "tax")
    appeal_id, sent = await h.file(ENT, "数电发票开不出来，已经影响发货")
    assert any("数电发票" in s.text and REASON not in s.text for s in h.to(TAX_HANDLER, sent))
    assert h.to(DISPATCHER, sent) == []
    await h.act(DISPATCHER, "dispto", appeal_id, "finance")
    assert h.one("SELECT department_id FROM appeals WHERE id = ?", [appeal_id])["department_id"] == "tax"


async def test_a_follow_up_for_a_department_left_without_handlers_reaches_the_center(h: Harness) -> None:
    await h.register(ENT)
    await h.join(DISPATCHER, Role.DISPATCHER)
    await h.join(TAX_HANDLER, Role.HANDLER, "tax")
    appeal_id, _ = await h.file(ENT, "数电发票开不出来，已经影响发货")
    h.db.execute("UPDATE users SET active = 0 WHERE id = ?", [TAX_HANDLER])  # the only handler left
    await h.act(ENT, "fu", appeal_id)
    sent = await h.send(ENT, "补充：错误代码 E1024")
    to_center = [s for s in h.to(DISPATCHER, sent) if "E1024" in s.text]
    assert len(to_center) == 1 and REASON in to_center[0].text
