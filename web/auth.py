"""Console login without passwords: a one-time link (10 minutes) becomes a session cookie; CSRF on every form.

The person's role is read again on every request, so staff who are removed or demoted lose the console
at once, whatever their cookie says.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from appeals.model import Actor, Role
from config import Settings
from web.context import ACTOR, CONTEXT, CSRF, SESSION_ID, WebContext

log = logging.getLogger(__name__)
COOKIE = "wanqi_session"
STAFF = frozenset({Role.HANDLER, Role.DISPATCHER, Role.SUPERVISOR})
OPEN_PATHS = ("/console/login", "/console/static/")


def _secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"


async def staff_actor(ctx: WebContext, user_id: int) -> Actor | None:
    """The console user as the services see them now, or None if no longer active staff."""
    user = await ctx.services.repo.get_user(user_id)
    if user is None or not user.active:
        return None
    # the recorded role only: WANQI_SUPERVISORS is applied at start (appeals/staff.py), so a supervisor
    # removed since then is refused here at once, as in the bot
    role = Role(user.role) if user.role else None
    if role not in STAFF:
        return None
    return Actor(user_id=user_id, role=role, enterprise_id=None, department_id=user.department_id,
                 lang=user.lang, name=user.name)


@web.middleware
async def sessions(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                   ) -> web.StreamResponse:
    """Every /console page needs a live session of active staff; every POST its CSRF token."""
    if not request.path.startswith("/console") or request.path.startswith(OPEN_PATHS):
        return await handler(request)
    ctx = request.app[CONTEXT]
    session_id = request.cookies.get(COOKIE, "")
    session = await ctx.services.web.session(session_id, ctx.now()) if session_id else None
    actor = await staff_actor(ctx, session.user_id) if session else None
    if session is None or actor is None:
        if session is not None:
            await ctx.services.web.end_session(session_id, ctx.now())
        response = _page(ctx, "console.login.needed", 401)
        response.del_cookie(COOKIE, path="/")
        return response
    if request.method == "POST":
        form = await request.post()
        sent = str(form.get("csrf", ""))
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            log.warning("console: POST %s without a valid CSRF token refused", request.path)
            return _page(ctx, "console.login.csrf", 403)
    request[ACTOR], request[CSRF], request[SESSION_ID] = actor, session.csrf, session_id
    return await handler(request)


def _page(ctx: WebContext, key: str, status: int) -> web.Response:
    from web.console import render

    return render(ctx, "message.html", {"message": ctx.t()(key)}, status=status)


async def login_form(request: web.Request) -> web.Response:
    """GET shows a button: link previews and scanners that fetch the URL do not spend the link."""
    from web.console import render

    ctx = request.app[CONTEXT]
    return render(ctx, "login.html", {"token": request.query.get("token", "")})


async def login(request: web.Request) -> web.StreamResponse:
    from web.console import render

    ctx = request.app[CONTEXT]
    token = str((await request.post()).get("token", ""))
    spent = await ctx.services.web.use_login_link(token, ctx.now(), ctx.settings.web.session_hours) if token else None
    if spent is None:
        return render(ctx, "message.html", {"message": ctx.t()("console.login.bad_link")}, status=403)
    session_id, session = spent
    if await staff_actor(ctx, session.user_id) is None:
        await ctx.services.web.end_session(session_id, ctx.now())
        return render(ctx, "message.html", {"message": ctx.t()("console.login.not_staff")}, status=403)
    log.info("console: user %s logged in", session.user_id)
    response = see_other("/console")
    response.set_cookie(COOKIE, session_id, httponly=True, samesite="Strict", secure=_secure(request), path="/",
                        max_age=ctx.settings.web.session_hours * 3600)
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    await ctx.services.web.end_session(request[SESSION_ID], ctx.now())
    response = see_other("/console/login")
    response.del_cookie(COOKIE, path="/")
    return response


def see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


def login_url(settings: Settings, token: str) -> str:
    return f"{settings.web.base_url()}/console/login?token={token}"
