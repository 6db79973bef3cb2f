"""``/login`` and ``/dashboard``: small server-rendered pages that work with plain form posts.

They use the same session cookie as the Better Auth API (signing in here signs you in there).
Every form carries a CSRF token: on ``/login`` a double-submit token (a random cookie echoed in
a hidden field), on the dashboard an HMAC of the session token; posts are also origin-checked
with Better Auth's rules, and the cookies are ``SameSite=Lax``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from html import escape
from typing import Any
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from workers.auth.accounts import (
    Banned,
    InvalidCredentials,
    authenticate,
    ban,
    create_account,
    is_admin,
    lift_expired_ban,
    unban,
)
from workers.auth.context import AuthContext
from workers.auth.cookies import serialize
from workers.auth.crypto import equal
from workers.auth.errors import MESSAGES, APIError, HTTPError
from workers.auth.origin import validate_form_csrf, validate_origin
from workers.auth.ratelimit import SIGN_IN_MAX, SIGN_IN_WINDOW, consume
from workers.auth.settings import DEFAULT_ROLE
from workers.auth.store import user_json
from workers.auth.validation import BodyTooLarge, read_body

LOGIN_CSRF = "login_csrf"
ROLES = ("user", "admin")
INCOMPLETE = "Name, email, a role and a password of 8 or more characters are required"

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0;background:#f6f6f4;color:#222}
main{max-width:880px;margin:2rem auto;padding:0 1rem}
form.card,section{background:#fff;border:1px solid #ddd;border-radius:8px;
  padding:1rem 1.25rem;margin:1rem 0}
label{display:block;margin:.5rem 0 .2rem}
input,select{font:inherit;padding:.35rem;width:100%;box-sizing:border-box}
button{font:inherit;padding:.35rem .9rem;margin-top:.6rem;cursor:pointer}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:.35rem;border-bottom:1px solid #eee}
.error{color:#a00}.ok{color:#060}
header{display:flex;justify-content:space-between;align-items:center}
td form{display:inline;margin:0}td button{margin:0}
"""


def _page(title: str, body: str, status: int = 200, cookies: list[str] | None = None) -> Response:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{_STYLE}</style>"
        f"</head><body><main>{body}</main></body></html>"
    )
    response = HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})
    for cookie in cookies or []:
        response.headers.append("set-cookie", cookie)
    return response


def _redirect(url: str, ctx: AuthContext | None = None) -> Response:
    response = RedirectResponse(url, status_code=303)
    return ctx.finish(response) if ctx is not None else response


def session_csrf(secret: str, session_token: str) -> str:
    """The dashboard forms' CSRF token: bound to the session, unguessable without the secret."""
    digest = hmac.new(secret.encode(), f"csrf:{session_token}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


async def _form(request: Request) -> dict[str, str]:
    try:
        raw = await read_body(request)
    except BodyTooLarge:
        raise HTTPError(413, "Request body is too large") from None
    return dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


def _login_page(ctx: AuthContext, error: str = "", email: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    cookie = serialize(ctx.settings, LOGIN_CSRF, token, 3600)
    message = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = f"""<h1>Sign in</h1>{message}
<form class="card" method="post" action="/login">
<input type="hidden" name="csrf" value="{token}">
<label for="email">Email</label>
<input id="email" name="email" type="email" value="{escape(email)}" required autofocus>
<label for="password">Password</label><input id="password" name="password" type="password" required>
<button type="submit">Sign in</button></form>
<p>Accounts are created by administrators.</p>"""
    return _page("Sign in", body, status, [cookie])


async def login_page(request: Request) -> Response:
    """``GET /login``: the form (or straight to the dashboard when signed in)."""
    ctx = AuthContext(request)
    if await ctx.session() is not None:
        return _redirect("/dashboard")
    return _login_page(ctx)


async def login_submit(request: Request) -> Response:
    """``POST /login``: check CSRF and credentials, set the session cookie, go to the dashboard."""
    ctx = AuthContext(request)
    form = await _form(request)
    email = form.get("email", "")
    expected = ctx.cookies.get(ctx.settings.cookie(LOGIN_CSRF), "")
    try:
        validate_form_csrf(ctx.headers, ctx.settings, ctx.own_origin)
    except APIError as exc:
        return _login_page(ctx, exc.message, email, 403)
    if not expected or not equal(form.get("csrf", ""), expected):
        return _login_page(ctx, "The form expired; please try again.", email, 403)
    if ctx.settings.rate_limit:
        verdict = await consume(
            ctx.env.AUTH_KV, f"{ctx.ip}|/login", window=SIGN_IN_WINDOW, limit=SIGN_IN_MAX
        )
        if not verdict.allowed:
            return _login_page(ctx, "Too many attempts. Please try again later.", email, 429)
    try:
        user = await authenticate(ctx.store, email, form.get("password", ""))
        await lift_expired_ban(ctx.store, user)
        await ctx.start_session(user, dont_remember=False)
    except InvalidCredentials:
        return _login_page(ctx, MESSAGES["INVALID_EMAIL_OR_PASSWORD"], email, 401)
    except (Banned, APIError):
        return _login_page(ctx, MESSAGES["BANNED_USER"], email, 403)
    ctx.set_cookies.append(serialize(ctx.settings, LOGIN_CSRF, "", 0))
    return _redirect("/dashboard", ctx)


def _users_table(users: list[dict[str, Any]], me: str, csrf: str) -> str:
    rows = []
    for u in users:
        state = "banned" if u["banned"] else "active"
        action = ""
        if u["id"] != me:
            verb = "unban" if u["banned"] else "ban"
            action = (
                f'<form method="post" action="/dashboard/users/{quote(u["id"])}/{verb}">'
                f'<input type="hidden" name="csrf" value="{csrf}">'
                f'<button type="submit" aria-label="{verb} {escape(u["email"])}">'
                f"{verb.title()}</button></form>"
            )
        rows.append(
            f"<tr><td>{escape(u['name'])}</td><td>{escape(u['email'])}</td>"
            f"<td>{escape(u['role'] or '')}</td><td>{state}</td><td>{action}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Name</th><th>Email</th><th>Role</th><th>Status</th><th></th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


async def dashboard(request: Request, *, error: str = "", status: int = 200) -> Response:
    """``GET /dashboard``: admins see, create and ban users; others are sent to sign in."""
    ctx = AuthContext(request)
    found = await ctx.session()
    if found is None:
        return _redirect("/login")
    me = found.user
    csrf = session_csrf(ctx.settings.secret, found.session["token"])
    signout = (
        f'<form method="post" action="/logout"><input type="hidden" name="csrf" value="{csrf}">'
        '<button type="submit">Sign out</button></form>'
    )
    header = f"<header><h1>Dashboard</h1><div>{escape(me['email'])} {signout}</div></header>"
    if not is_admin(me):
        return _page("Dashboard", header + "<p>This dashboard is for administrators.</p>", 403)
    rows, total = await ctx.store.list_users([], limit=None, offset=None, sort=None)
    users = [user_json(r) for r in rows]
    created = request.query_params.get("created")
    notice = f'<p class="ok" role="status">Created {escape(created)}</p>' if created else ""
    failure = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    options = "".join(f'<option value="{r}">{r}</option>' for r in ROLES)
    body = f"""{header}{notice}{failure}
<section><h2>Users ({total})</h2>{_users_table(users, me["id"], csrf)}</section>
<form class="card" method="post" action="/dashboard/users"><h2>Create a user</h2>
<input type="hidden" name="csrf" value="{csrf}">
<label for="new-name">Name</label><input id="new-name" name="name" required>
<label for="new-email">Email</label><input id="new-email" name="email" type="email" required>
<label for="new-password">Password</label>
<input id="new-password" name="password" type="password" minlength="8" required>
<label for="new-role">Role</label><select id="new-role" name="role">{options}</select>
<button type="submit">Create user</button></form>"""
    return _page("Dashboard", body, status)


async def _admin_form(request: Request) -> tuple[AuthContext, dict[str, str], Response | None]:
    """The admin's context and form, or the response refusing the post."""
    ctx = AuthContext(request)
    form = await _form(request)
    try:
        validate_origin(ctx.headers, ctx.settings, ctx.own_origin, force=True)
    except APIError as exc:
        return ctx, form, _page("Forbidden", f'<p class="error">{escape(exc.message)}</p>', 403)
    found = await ctx.session()
    if found is None:
        return ctx, form, _redirect("/login")
    if not equal(form.get("csrf", ""), session_csrf(ctx.settings.secret, found.session["token"])):
        return ctx, form, _page("Forbidden", '<p class="error">Invalid CSRF token</p>', 403)
    if request.url.path != "/logout" and not is_admin(found.user):
        return ctx, form, _page("Forbidden", '<p class="error">Administrators only</p>', 403)
    return ctx, form, None


async def create_user(request: Request) -> Response:
    """``POST /dashboard/users``: create a user from the form."""
    ctx, form, refusal = await _admin_form(request)
    if refusal is not None:
        return refusal
    role = form.get("role", DEFAULT_ROLE)
    name, password = form.get("name", "").strip(), form.get("password", "")
    if role not in ROLES or not name or len(password) < 8:
        return await dashboard(request, error=INCOMPLETE, status=400)
    try:
        user = await create_account(
            ctx.store, email=form.get("email", ""), name=name, password=password, role=role
        )
    except APIError as exc:
        return await dashboard(request, error=exc.message, status=400)
    return _redirect(f"/dashboard?created={quote(user['email'])}")


async def set_ban(request: Request) -> Response:
    """``POST /dashboard/users/{id}/ban`` and ``.../unban``."""
    if request.path_params["action"] not in ("ban", "unban"):
        return _page("Not Found", "<p>Not found</p>", 404)
    ctx, _, refusal = await _admin_form(request)
    if refusal is not None:
        return refusal
    found = await ctx.session()
    user_id = request.path_params["user_id"]
    if found is None or user_id == found.user["id"]:
        return await dashboard(request, error=MESSAGES["YOU_CANNOT_BAN_YOURSELF"], status=400)
    if await ctx.store.user_by_id(user_id) is None:
        return await dashboard(request, error=MESSAGES["USER_NOT_FOUND"], status=404)
    if request.path_params["action"] == "ban":
        await ban(ctx.store, user_id, reason=None, expires_in=None)
    else:
        await unban(ctx.store, user_id)
    return _redirect("/dashboard")


async def logout(request: Request) -> Response:
    """``POST /logout``: end the session and return to the sign-in page."""
    ctx, _, refusal = await _admin_form(request)
    if refusal is not None:
        return refusal
    token = ctx.session_token()
    if token is not None:
        await ctx.store.delete_session(token)
    ctx.clear_session_cookies()
    return _redirect("/login", ctx)
