"""The web side as one aiohttp application: the console and the Open311 API, in `wanqi run` or alone."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from config import split_listen
from web import auth, console, open311
from web.context import CONTEXT, WebContext

log = logging.getLogger(__name__)


@web.middleware
async def headers(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                  ) -> web.StreamResponse:
    """Offline and locked down: everything from this origin, no framing, no referrer (login tokens)."""
    response = await handler(request)
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


COMPRESSIBLE = ("text/html", "text/css", "application/json", "application/xml", "text/xml", "image/svg+xml")


@web.middleware
async def gzip(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
               ) -> web.StreamResponse:
    """Pages and API answers go gzip-compressed to clients that accept it (超期与督办: 136 KB -> ~15 KB)."""
    response = await handler(request)
    if (isinstance(response, web.Response) and not response.compression
            and "gzip" in request.headers.get("Accept-Encoding", "").lower()
            and response.content_type in COMPRESSIBLE and response.body is not None
            and len(response.body) >= 1024):  # type: ignore[arg-type]
        response.enable_compression(web.ContentCoding.gzip)
    return response


def build_web_app(ctx: WebContext) -> web.Application:
    app = web.Application(middlewares=[headers, gzip, open311.guard, auth.sessions, console.domain_errors],
                          client_max_size=1024 * 1024)
    app[CONTEXT] = ctx
    app.add_routes(open311.routes())
    app.add_routes(console.routes())
    return app


async def start(ctx: WebContext, listen: str | None = None) -> web.AppRunner:
    """Serve on ``listen`` (default: the settings' web.listen) until the runner is cleaned up."""
    host, port = split_listen(listen or ctx.settings.web.listen, any_port=True)
    runner = web.AppRunner(build_web_app(ctx), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("console and Open311 API on http://%s:%d", host, port)
    return runner
