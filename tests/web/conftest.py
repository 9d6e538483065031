"""The web doors over HTTP on 127.0.0.1: the real services, database and bot dispatcher behind them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bootstrap import SystemClock
from tests.bot.harness import SUPERVISOR, Harness, Role, build_harness
from web.context import WebContext
from web.server import build_web_app


@dataclass
class Site:
    h: Harness
    ctx: WebContext
    client: TestClient

    async def login(self, user_id: int) -> TestClient:
        """Log ``user_id`` in through a one-time link and return a client holding the session cookie."""
        token = await self.h.app.services.web.create_login_link(user_id, self.ctx.now())
        client = TestClient(self.client.server)
        page = await client.get(f"/console/login?token={token}")
        assert page.status == 200 and token in await page.text()
        done = await client.post("/console/login", data={"token": token}, allow_redirects=False)
        assert done.status == 303, await done.text()
        return client

    @staticmethod
    def csrf(html: str) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', html)
        assert found, "no CSRF field on the page"
        return found.group(1)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    h = build_harness(tmp_path)
    ctx = WebContext(h.app.settings, h.app.services, SystemClock())  # the services queue the notices
    client = TestClient(TestServer(build_web_app(ctx), host="127.0.0.1"))
    await client.start_server()
    try:
        yield Site(h, ctx, client)
    finally:
        await client.close()
        await h.app.close()


async def staffed(site: Site) -> dict[str, Any]:
    """An enterprise, a tax handler, a finance handler and a dispatcher; two appeals filed in the bot."""
    h = site.h
    await h.register(101, "肇庆甲制造有限公司")
    await h.join(201, Role.HANDLER, "tax")
    await h.join(202, Role.HANDLER, "finance")
    await h.join(301, Role.DISPATCHER)
    tax_id, _ = await h.file(101, "增值税专用发票开不出来，请税务局帮忙")
    loan_id, _ = await h.file(101, "申请贷款贴息一直没有回音")
    await h.send(SUPERVISOR, "/start")
    return {"tax": tax_id, "loan": loan_id}
