"""Errors of the auth worker, in the two shapes it answers with.

``APIError`` is Better Auth's ``{"message", "code"}`` body (``/api/auth/*``); ``HTTPError`` is the
project's ``{"error": ...}`` body (``/auth/*``, pages). Handlers raise them; ``app.py`` maps them
to responses once.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse, Response


class APIError(Exception):
    """A Better Auth error: ``status`` with ``{"message", "code"}`` (``code`` omitted when None).

    ``empty=True`` answers with no body at all (the admin plugin's 401 without a session).
    """

    def __init__(
        self,
        status: int,
        message: str = "",
        code: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        empty: bool = False,
    ) -> None:
        super().__init__(message or str(status))
        self.status = status
        self.message = message
        self.code = code
        self.headers = dict(headers or {})
        self.empty = empty

    def response(self) -> Response:
        if self.empty:
            return Response(status_code=self.status, headers=self.headers)
        body: dict[str, str] = {"message": self.message}
        if self.code is not None:
            body["code"] = self.code
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def error(status: int, code: str, message: str) -> APIError:
    """``APIError.from(status, {code, message})``."""
    return APIError(status, message, code)


# Better Auth's messages for the codes this worker raises (@better-auth/core error/codes, admin).
MESSAGES = {
    "UNAUTHORIZED": "Unauthorized",
    "USER_NOT_FOUND": "User not found",
    "FAILED_TO_CREATE_USER": "Failed to create user",
    "FAILED_TO_CREATE_SESSION": "Failed to create session",
    "FAILED_TO_GET_SESSION": "Failed to get session",
    "INVALID_PASSWORD": "Invalid password",
    "INVALID_EMAIL": "Invalid email",
    "INVALID_EMAIL_OR_PASSWORD": "Invalid email or password",
    "PASSWORD_TOO_SHORT": "Password too short",
    "PASSWORD_TOO_LONG": "Password too long",
    "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL": "User already exists. Use another email.",
    "EMAIL_CAN_NOT_BE_UPDATED": "Email can not be updated",
    "CREDENTIAL_ACCOUNT_NOT_FOUND": "Credential account not found",
    "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED": (
        "Cross-site navigation login blocked. This request appears to be a CSRF attack."
    ),
    "SESSION_NOT_FRESH": "Session is not fresh",
    "INVALID_ORIGIN": "Invalid origin",
    "INVALID_CALLBACK_URL": "Invalid callbackURL",
    "MISSING_OR_NULL_ORIGIN": "Missing or null Origin",
    "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED": (
        "POST method requires deferSessionRefresh to be enabled in session config"
    ),
    "BODY_MUST_BE_AN_OBJECT": "Body must be an object",
    "EMAIL_PASSWORD_SIGN_UP_DISABLED": "Email and password sign up is not enabled",
    "YOU_CANNOT_BAN_YOURSELF": "You cannot ban yourself",
    "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE": "You are not allowed to change users role",
    "YOU_ARE_NOT_ALLOWED_TO_CREATE_USERS": "You are not allowed to create users",
    "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS": "You are not allowed to list users",
    "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS": "You are not allowed to ban users",
    "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS": "You are not allowed to delete users",
    "YOU_CANNOT_REMOVE_YOURSELF": "You cannot remove yourself",
    "INVALID_ROLE_TYPE": "Invalid role type",
    "BANNED_USER": (
        "You have been banned from this application. "
        "Please contact support if you believe this is an error."
    ),
    # api-key plugin
    "UNAUTHORIZED_SESSION": "Unauthorized or invalid session",
    "KEY_NOT_FOUND": "API Key not found",
    "INVALID_METADATA_TYPE": "metadata must be an object or undefined",
    "EXPIRES_IN_IS_TOO_SMALL": "The expiresIn is smaller than the predefined minimum value.",
    "EXPIRES_IN_IS_TOO_LARGE": "The expiresIn is larger than the predefined maximum value.",
    "INVALID_PREFIX_LENGTH": "The prefix length is either too large or too small.",
    "INVALID_NAME_LENGTH": "The name length is either too large or too small.",
    "INVALID_RATE_LIMIT": "rateLimitMax must be between 1 and 1000.",
    "INVALID_PERMISSIONS": "permissions must map resource names to arrays of actions.",
}


def api_error(status: int, code: str) -> APIError:
    """An APIError with Better Auth's message for ``code``."""
    return APIError(status, MESSAGES[code], code)


class HTTPError(Exception):
    """A ``{"error": message}`` answer with ``status`` (the ``/auth/*`` routes and pages)."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> Response:
        return JSONResponse({"error": self.message}, status_code=self.status, headers=self.headers)
