"""`wanqi demo`: the real dispatcher, the real trained model and a fresh SQLite file, driven through a
local Bot API stand-in on 127.0.0.1 by a scripted journey. No token, no network. Prints a transcript."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from appeals.lifecycle import Status
from appeals.model import Role
from bot.app import App, build_app
from bot.runner import running
from config import Settings, TelegramSettings
from demo.standin import BotAPIStandin, SentMessage, StandinUser
from texts import cli_locale, cli_text, translator

DEMO_TOKEN = "123456:WANQI-DEMO-TOKEN"
ENTERPRISE, HANDLER, SUPERVISOR = 1001, 2001, 3001
APPEAL = ("我们是端州区的一家制造企业，今年9月申请了增值税留抵退税50万元，到现在两个多月了还没到账，"
          "资金周转很紧张，麻烦税务部门帮忙查一下进度。联系电话13800138000。")
SECOND = "上个月开的数电票，客户说查验不到，开票系统也没报错，请税务局帮忙看看怎么回事。"


def _valid_code(first17: str) -> str:
    from appeals.credit_code import check_char

    return first17 + check_char(first17)


class Transcript:
    """Prints what each person sends and what the bot answers, in order."""

    def __init__(self, api: BotAPIStandin, names: dict[int, str], out: Callable[[str], None]) -> None:
        self.api, self.names, self.out = api, names, out
        self.shown = 0

    def step(self, title: str) -> None:
        self.flush()
        self.out(f"\n── {title} " + "─" * max(0, 40 - len(title)))

    def said(self, user: StandinUser, text: str) -> None:
        self.flush()
        self.out(f"👤 {self.names[user.id]}：{text}")

    def flush(self) -> None:
        for m in self.api.sent[self.shown:]:
            self.out(self.render(m))
        self.shown = len(self.api.sent)

    def render(self, m: SentMessage) -> str:
        text = re.sub(r"<[^>]+>", "", m.text or "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        body = "\n   ".join(text.splitlines())
        buttons = "".join(f" [{b}]" for b, _ in m.buttons)
        return f"🤖 → {self.names.get(m.chat_id, m.chat_id)}：{body}" + (f"\n   {buttons.strip()}" if buttons else "")


async def serve_console(app: App, listen: str, out: Callable[[str], None], stop: asyncio.Event | None) -> None:
    """The demo's database in the web console on 127.0.0.1, with a one-time login link for the supervisor."""
    import signal
    from datetime import UTC, datetime

    from bootstrap import SystemClock
    from config import split_listen
    from web.auth import login_url
    from web.context import WebContext
    from web.server import start

    host, port = split_listen(listen, any_port=True)
    if host != "127.0.0.1":
        raise ValueError(cli_text("cli.demo.console_local", host=host))
    runner = await start(WebContext(app.settings, app.services, SystemClock()), listen)
    actual = runner.addresses[0][1] if runner.addresses else port
    settings = dataclasses.replace(app.settings, web=dataclasses.replace(app.settings.web,
                                                                         listen=f"127.0.0.1:{actual}", public_url=""))
    token = await app.services.web.create_login_link(SUPERVISOR, datetime.now(UTC))
    out("\n" + cli_text("cli.demo.console", port=actual))
    out(cli_text("cli.demo.console_link", url=login_url(settings, token)))
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


async def run_demo(settings: Settings, out: Callable[[str], None] = print, workdir: Path | None = None,
                   console: str | None = None, stop: asyncio.Event | None = None) -> int:
    """Play the journey: register, file, auto-route, 签收, 答复, 好评 -> closed; then 差评 -> 重办.

    Each run starts from a fresh database: in ``workdir`` (kept afterwards, replaced by the next run),
    else in a temporary folder removed at the end. With ``console`` (host:port on 127.0.0.1) the demo's
    database then stays served by the web console, a supervisor's login link printed, until ``stop`` is
    set or the process is interrupted.
    """
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="wanqi-demo-") as tmp:
            return await _play(settings, out, Path(tmp), console, stop)
    for suffix in ("", "-wal", "-shm", "-journal"):
        (workdir / f"demo.db{suffix}").unlink(missing_ok=True)
    return await _play(settings, out, workdir, console, stop)


async def _play(settings: Settings, out: Callable[[str], None], workdir: Path, console: str | None,
                stop: asyncio.Event | None) -> int:
    async with BotAPIStandin() as api:
        settings = dataclasses.replace(
            settings, database=str(workdir / "demo.db"), supervisors=frozenset({SUPERVISOR}),
            telegram=TelegramSettings(api_base=api.base_url, polling_timeout=1),
            web=dataclasses.replace(settings.web, enabled=False),
            # the stand-in keeps no flood limits: the demo need not wait a second between two messages
            push=dataclasses.replace(settings.push, per_chat_interval=0.05))
        app = build_app(settings, token=DEMO_TOKEN)
        names = {ENTERPRISE: "陈经理（肇庆星河精密制造有限公司）", HANDLER: "李科长（市税务局）",
                 SUPERVISOR: "王主任（中心督办）"}
        log = Transcript(api, names, out)
        company = api.user(ENTERPRISE, "陈经理")
        handler = api.user(HANDLER, "李科长")
        boss = api.user(SUPERVISOR, "王主任")

        async def say(user: StandinUser, text: str) -> None:
            log.said(user, text)
            await user.send(text)

        async def press(user: StandinUser, message: SentMessage, label: str) -> None:
            log.flush()
            out(f"👆 {names[user.id]} 点击 [{label}]")
            exact = [data for text, data in message.buttons if text == label and data]
            await (user.press(message, exact[0]) if exact else user.press_button(message, label))

        try:
            out(f"万企诉求助手 demo · 数据库 {settings.database} · Bot API 替身 {api.base_url}")
            invite = await app.services.registration.create_invite(Role.HANDLER, "tax", "demo")
            async with running(app):
                log.step("1 企业登记")
                await say(company, "/start")
                await press(company, await company.wait_for(contains="登记"), "开始登记")
                await company.wait_for(contains="企业全称")
                await say(company, "肇庆星河精密制造有限公司")
                await company.wait_for(contains="信用代码")
                await say(company, "91441200MA4UQ2X170")
                await company.wait_for(contains="校验位")
                await say(company, _valid_code("91441200MA4UQ2X17"))
                await company.wait_for(contains="联系人")
                await say(company, "陈志远")
                await company.wait_for(contains="联系电话")
                await say(company, "13800138000")
                await press(company, await company.wait_for(contains="所属行业"), "C 制造业")
                await press(company, await company.wait_for(contains="企业规模"), "小型")
                await press(company, await company.wait_for(contains="所在区县"), "端州区")
                await press(company, await company.wait_for(contains="请核对"), "确认提交")
                await company.wait_for(contains="登记完成")

                log.step("2 承办人加入")
                await say(handler, f"/join {invite}")
                await handler.wait_for(contains="已加入")

                log.step("3 企业提交诉求，模型分类并自动派单")
                await say(company, APPEAL)
                await company.wait_for(contains="诉求编号")
                appeal = (await app.services.repo.list_appeals(enterprise_id=1, limit=1))[0]
                if appeal.status is Status.SUBMITTED:  # below the threshold: the center dispatches it
                    await press(boss, await boss.wait_for(contains="待分拨"), "派至 税费与发票")
                card = await handler.wait_for(contains=appeal.number)

                log.step("4 承办人签收并答复")
                await press(handler, card, "签收")
                await company.wait_for(contains="已由")
                done = await handler.wait_for(contains="已签收")
                await press(handler, done, "答复")
                await handler.wait_for(contains="正式答复")
                await say(handler, "经核查，贵司留抵退税申请资料已补齐，已于今日审核通过，退税款预计3个工作日内到账。")
                rating = await company.wait_for(contains="已答复")

                log.step("5 企业评价：满意 → 办结")
                await press(company, rating, "满意")
                await company.wait_for(contains="已办结")
                await handler.wait_for(contains="评价")

                log.step("6 第二件诉求：差评 → 重办，督办人员收到提醒")
                await say(company, SECOND)
                await company.wait_for(contains="诉求编号")
                second = (await app.services.repo.list_appeals(enterprise_id=1, limit=1))[0]
                if second.status is Status.SUBMITTED:
                    await press(boss, await boss.wait_for(contains="待分拨"), "派至 税费与发票")
                await press(handler, await handler.wait_for(contains=second.number), "签收")
                await press(handler, await handler.wait_for(contains="已签收"), "答复")
                await handler.wait_for(contains="正式答复")
                await say(handler, "请按操作指引重新上传发票。")
                await press(company, await company.wait_for(contains="已答复"), "不满意")
                await company.wait_for(contains="重新办理")
                await boss.wait_for(contains="差评督办")
                await handler.wait_for(contains="差评重办")

                log.step("7 企业查看 /my")
                await say(company, "/my")
                await company.wait_for(contains="最近")
            log.flush()
            first = await app.services.repo.get_appeal(appeal.id)
            again = await app.services.repo.get_appeal(second.id)
            t = translator(cli_locale(), html=False)
            out("\n" + cli_text("cli.demo.result", first=first.number, first_status=t(f"status.{first.status.value}"),
                                rating=t(f"rating.{first.rating}") if first.rating else t("rating.unrated"),
                                second=again.number, second_status=t(f"status.{again.status.value}"),
                                reopened=again.reopen_count))
            ok = first.status is Status.CLOSED and again.status is Status.REOPENED
            out(cli_text("cli.demo.ok" if ok else "cli.demo.failed"))
            if console is not None and ok:
                await serve_console(app, console, out, stop)
            return 0 if ok else 1
        finally:
            await app.close()
