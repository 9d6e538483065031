"""`wanqi run`'s serving loop against the Bot API stand-in: menus, scheduler, polling, clean stop."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import aiohttp

from bot.app import build_app
from bot.runner import serve
from cli.main import start_web
from config import TelegramSettings
from demo.standin import BotAPIStandin
from tests.bot.harness import TOKEN, KeywordClassifier, make_settings


async def test_serve_polls_sets_menus_and_stops_cleanly(tmp_path: Path) -> None:
    async with BotAPIStandin() as api:
        settings = dataclasses.replace(make_settings(tmp_path),
                                       telegram=TelegramSettings(api_base=api.base_url, polling_timeout=1))
        app = build_app(settings, token=TOKEN, classifier=KeywordClassifier())
        stop = asyncio.Event()
        task = asyncio.create_task(serve(app, handle_signals=False, stop=stop, web=start_web))
        try:
            user = api.user(555, "周总")
            await user.send("/start")
            welcome = await user.wait_for(contains="您好，这里是")
            assert [label for label, _ in welcome.buttons] == ["开始登记"]
            assert [c["command"] for c in api.commands["default"]][:1] == ["start"]  # the default menu
            assert "appeals:sla-scan" in {job.id for job in app.scheduler.get_jobs()}
            # the console and the Open311 API are served by the same process
            host, port = app.web_runner.addresses[0][:2]
            async with aiohttp.ClientSession() as http, \
                    http.get(f"http://{host}:{port}/open311/v2/services.json") as resp:
                assert resp.status == 200 and any(s["service_code"] == "tax" for s in await resp.json())
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
            await app.close()
        assert task.exception() is None
