"""One ``/api/auth`` request: its env, settings, store, cookies in and out, and its session."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from workers.auth import cookies as cookie_mod
from workers.auth.accounts import Banned, banned_error, is_admin, lift_expired_ban
from workers.auth.crypto import sign
from workers.auth.dates import now_ms, parse_ms
from workers.auth.errors import APIError, api_error
from workers.auth.identity import session_token
from workers.auth.origin import request_origin
from workers.auth.settings import DONT_REMEMBER_EXPIRES_IN, SESSION_EXPIRES_IN, settings
from workers.auth.store import SessionWithUser, Store
from workers.auth.validation import client_ip

_UNSET: Any = object()


class AuthContext:
    """Per-request state of the auth worker; handlers get one and answer with ``json()``."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.env = request.scope["env"]
        self.settings = settings(self.env)
        self.store = Store(self.env.DB)
        self.headers = request.headers
        self.cookies = cookie_mod.parse_cookie_header(self.headers.get("cookie"))
        self.own_origin = request_origin(self.headers, request.url.scheme)
        self.set_cookies: list[str] = []
        self.auth_token: str | None = None
        self._session: Any = _UNSET

    @property
    def ip(self) -> str:
        return client_ip(self.request)

    def session_token(self) -> str | None:
        """The verified session token: ``Authorization: Bearer`` first, else the cookie."""
        authorization = self.headers.get("authorization", "")
        if authorization[:7].lower() == "bearer ":
            token = session_token(authorization[7:].strip(), self.settings)
            if token is not None:
                return token
        return cookie_mod.read_signed(self.settings, self.cookies, cookie_mod.SESSION_TOKEN)

    @property
    def dont_remember(self) -> bool:
        return (
            cookie_mod.read_signed(self.settings, self.cookies, cookie_mod.DONT_REMEMBER)
            is not None
        )

    async def session(self) -> SessionWithUser | None:
        """The current session if valid and unexpired (validated, never refreshed here)."""
        if self._session is _UNSET:
            token = self.session_token()
            found = await self.store.session_with_user(token) if token else None
            if found is not None and (parse_ms(found.session["expiresAt"]) or 0) < now_ms():
                found = None
            self._session = found
        return self._session  # type: ignore[no-any-return]

    async def require_session(self) -> SessionWithUser:
        """The session, or Better Auth's 401 ``UNAUTHORIZED``."""
        found = await self.session()
        if found is None:
            raise api_error(401, "UNAUTHORIZED")
        return found

    async def require_admin(self, refusal: str) -> SessionWithUser:
        """An admin's session: 401 with no body without one, 403 ``refusal`` for non-admins."""
        found = await self.session()
        if found is None:
            raise APIError(401, empty=True)
        if not is_admin(found.user):
            raise api_error(403, refusal)
        return found

    async def start_session(self, user: dict[str, Any], *, dont_remember: bool) -> dict[str, Any]:
        """Create a session for ``user`` (refusing banned users) and set its cookies; a ban that
        has expired is lifted, and ``user`` updated in place."""
        try:
            user.update(await lift_expired_ban(self.store, user))
        except Banned:
            raise banned_error() from None
        lifetime = DONT_REMEMBER_EXPIRES_IN if dont_remember else SESSION_EXPIRES_IN
        session = await self.store.create_session(
            user["id"], now_ms() + lifetime * 1000, self.ip, self.headers.get("user-agent", "")
        )
        self.set_session_cookie(session["token"], dont_remember=dont_remember)
        return session

    def set_session_cookie(self, token: str, *, dont_remember: bool = False) -> None:
        self.set_cookies += cookie_mod.session_cookies(
            self.settings, token, dont_remember=dont_remember
        )
        self.auth_token = sign(self.settings.secret, token)

    def clear_session_cookies(self) -> None:
        self.set_cookies += cookie_mod.clearing_cookies(self.settings)

    def finish(self, response: Response) -> Response:
        """Attach the Set-Cookie values and the bearer plugin's ``set-auth-token``."""
        for value in self.set_cookies:
            response.headers.append("set-cookie", value)
        if self.auth_token is not None:
            response.headers["set-auth-token"] = self.auth_token
            response.headers["access-control-expose-headers"] = "set-auth-token"
        return response

    def json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return self.finish(JSONResponse(data, status_code=status, headers=headers))
