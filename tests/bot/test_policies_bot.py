"""The policy commands through the real Dispatcher: /profile, /subscribe, /unsubscribe, /policies, /broadcast."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.callbacks import BroadcastCb, PolicyCb, ProfileCb, TopicCb
from policies.model import TAGS, TOPICS
from storage.policies_repo import PolicyRepository
from tests.bot.harness import SUPERVISOR, Harness
from tests.policies.factories import policy

ENT, OTHER = 301, 302
NOW = datetime(2026, 11, 25, 2, tzinfo=UTC)


def seed(h: Harness) -> None:
    """A small known catalogue instead of the sample one, and a fixed clock."""
    h.db.execute("DELETE FROM policies")
    PolicyRepository(h.db).upsert_policies([
        policy("zq-t-mold", title="模具产业技改补贴", keywords=("模具",), industries=("C",), topics=("科技创新",),
               summary="支持模具企业技术改造"),
        policy("zq-t-hitech", title="高企研发奖励", tags=("高新技术企业",), districts=("端州区",),
               summary="对高新技术企业研发投入给予奖励", topics=("科技创新",)),
        policy("zq-t-tax", title="小微企业房产税减免", scales=("小型", "微型"), summary="困难减免房产税",
               topics=("税费",)),
        policy("zq-t-farm", title="鼎湖区农业补贴", districts=("鼎湖区",), summary="农业", topics=("融资",)),
    ], "test", NOW)
    desk = h.app.policy_desk
    desk.service.clock = lambda: NOW
    desk.service.reload()


async def test_policies_lists_matches_with_explanations_and_details(h: Harness) -> None:
    seed(h)
    await h.register(ENT)
    h.db.execute("UPDATE enterprises SET tags = '[\"高新技术企业\"]', business = '精密模具制造'")
    [reply] = await h.send(ENT, "/policies")
    assert "3 项" in reply.text
    assert reply.text.index("模具产业技改补贴") < reply.text.index("小微企业房产税减免")
    assert "符合：高新技术企业 · 端州区" in reply.text and "鼎湖区农业补贴" not in reply.text
    assert "相关：模具" in reply.text
    card = await h.press(ENT, reply.data("详情 1"))
    assert "支持模具企业技术改造" in card[-1].text


async def test_policies_keyword_search_and_unregistered_user(h: Harness) -> None:
    seed(h)
    [hit] = await h.send(OTHER, "/policies 房产税")
    assert "小微企业房产税减免" in hit.text and "模具" not in hit.text
    assert PolicyCb(id="zq-t-tax").pack() in [d for _, d in hit.buttons]
    [miss] = await h.send(OTHER, "/policies 量子计算")
    assert "未检索到" in miss.text
    [nope] = await h.send(OTHER, "/policies")
    assert "/start" in nope.text


async def test_profile_tags_year_and_business(h: Harness) -> None:
    seed(h)
    await h.register(ENT)
    [shown] = await h.send(ENT, "/profile")
    assert "企业画像" in shown.text and "▫️ 专精特新" in [t for t, _ in shown.buttons]
    await h.press(ENT, ProfileCb(act="tag", i=TAGS.index("专精特新")).pack())
    edit = [c for c in h.session.calls if c.__api_method__ == "editMessageText"][-1]
    assert "✅ 专精特新" in [b.text for row in edit.reply_markup.inline_keyboard for b in row]  # type: ignore[attr-defined]
    assert h.one("SELECT tags FROM enterprises")["tags"] == '["专精特新"]'
    await h.press(ENT, ProfileCb(act="year").pack())
    assert "格式不正确" in (await h.send(ENT, "去年"))[-1].text
    assert "2012" in (await h.send(ENT, "2012"))[-1].text
    await h.press(ENT, ProfileCb(act="biz").pack())
    await h.send(ENT, "跨境电商与仓储物流")
    row = h.one("SELECT founded_year, business FROM enterprises")
    assert row == {"founded_year": 2012, "business": "跨境电商与仓储物流"}


async def test_subscribe_topics_and_unsubscribe(h: Harness) -> None:
    seed(h)
    await h.register(ENT)
    [menu] = await h.send(ENT, "/subscribe")
    assert len([t for t, _ in menu.buttons if t.startswith("▫️")]) == len(TOPICS)
    await h.press(ENT, TopicCb(act="topic", i=TOPICS.index("税费")).pack())
    markup = [c for c in h.session.calls if c.__api_method__ == "editMessageReplyMarkup"][-1].reply_markup
    assert "✅ 税费" in [b.text for row in markup.inline_keyboard for b in row]  # type: ignore[attr-defined]
    await h.press(ENT, TopicCb(act="done").pack())
    done = [c for c in h.session.calls if c.__api_method__ == "editMessageText"][-1]
    assert "关注主题：税费" in done.text  # type: ignore[attr-defined]
    assert h.one("SELECT weekly, topics FROM subscriptions WHERE user_id = ?", [ENT]) == {"weekly": 1,
                                                                                      "topics": '["税费"]'}
    assert "已退订" in (await h.send(ENT, "/unsubscribe"))[-1].text
    assert h.one("SELECT weekly FROM subscriptions WHERE user_id = ?", [ENT])["weekly"] == 0
    [preview] = await h.send(SUPERVISOR, "/broadcast")
    assert "没有需要推送" in preview.text  # the only enterprise user unsubscribed


async def test_broadcast_is_for_supervisors_previews_then_sends_once(h: Harness) -> None:
    seed(h)
    await h.register(ENT)
    assert "仅限" in (await h.send(ENT, "/broadcast"))[-1].text
    assert "仅限" in (await h.press(ENT, BroadcastCb(act="go").pack()))[-1].text
    [preview] = await h.send(SUPERVISOR, "/broadcast")
    assert "共 1 份" in preview.text and "本周政策推送</b>（2026-11-23 至 2026-11-29）" in preview.text
    sent = await h.press(SUPERVISOR, preview.data("确认立即发送本周推送"))
    digest = h.to(ENT, sent)
    assert len(digest) == 1 and "模具产业技改补贴" in digest[0].text
    assert "已排入发送队列：1 份" in h.to(SUPERVISOR, sent)[0].text
    assert h.one("SELECT status, week FROM outbox WHERE kind = 'digest'") == {"status": "sent", "week": "2026-W48"}
    [again] = await h.send(SUPERVISOR, "/broadcast")
    assert "没有需要推送" in again.text
    [stats] = await h.send(SUPERVISOR, "/broadcast stats")
    assert "2026-11-23 至 2026-11-29" in stats.text and "W48" not in stats.text and "已送达 1" in stats.text


async def test_policy_appeal_is_answered_with_matching_policies(h: Harness) -> None:
    seed(h)
    await h.register(ENT)
    h.db.execute("UPDATE enterprises SET business = '精密模具制造'")
    _, sent = await h.file(ENT, "请问模具企业技改补贴怎么申请")  # the test classifier says "policy"
    texts = "\n".join(s.text for s in h.to(ENT, sent))
    assert "模具产业技改补贴" in texts and "政策咨询" in texts
