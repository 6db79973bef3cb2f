"""The auth tables in D1, in Better Auth's schema and row format (``migrations/``).

Every statement is parameterised; column names come only from the allowlists below. Dates are
written in the database's own format (ISO text for a database these migrations made, epoch ms
or seconds for a Drizzle-made one), detected once per database from its ``user`` rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workers.auth.crypto import generate_id
from workers.auth.dates import DateFormat, now_ms, to_iso

USER_COLUMNS = (
    "id", "name", "email", "emailVerified", "image", "createdAt", "updatedAt",
    "role", "banned", "banReason", "banExpires",
)  # fmt: skip
SESSION_COLUMNS = (
    "id", "expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId",
    "impersonatedBy",
)  # fmt: skip
USER_DATES = frozenset({"createdAt", "updatedAt", "banExpires"})
USER_BOOLEANS = frozenset({"emailVerified", "banned"})

_USER_SELECT = ", ".join(f'"{c}"' for c in USER_COLUMNS)
_SESSION_SELECT = ", ".join(f'"{c}"' for c in SESSION_COLUMNS)
_USER_SELECT_U = ", ".join(f'u."{c}"' for c in USER_COLUMNS)
_JOINED_SELECT = ", ".join(
    [f's."{c}" AS "s_{c}"' for c in SESSION_COLUMNS] + [f'u."{c}" AS "u_{c}"' for c in USER_COLUMNS]
)

Row = Mapping[str, Any]


def user_json(row: Row) -> dict[str, Any]:
    """A user row as Better Auth's JSON user object (admin plugin fields last but ``id``)."""
    banned = row.get("banned")
    return {
        "name": row["name"],
        "email": row["email"],
        "emailVerified": bool(row["emailVerified"]),
        "image": row.get("image"),
        "createdAt": to_iso(row["createdAt"]),
        "updatedAt": to_iso(row["updatedAt"]),
        "role": row.get("role"),
        "banned": None if banned is None else bool(banned),
        "banReason": row.get("banReason"),
        "banExpires": to_iso(row.get("banExpires")),
        "id": row["id"],
    }


def session_json(row: Row) -> dict[str, Any]:
    """A session row as Better Auth's JSON session object."""
    return {
        "expiresAt": to_iso(row["expiresAt"]),
        "token": row["token"],
        "createdAt": to_iso(row["createdAt"]),
        "updatedAt": to_iso(row["updatedAt"]),
        "ipAddress": row.get("ipAddress"),
        "userAgent": row.get("userAgent"),
        "userId": row["userId"],
        "impersonatedBy": row.get("impersonatedBy"),
        "id": row["id"],
    }


@dataclass
class SessionWithUser:
    """A session row and its user row, read together."""

    session: dict[str, Any]
    user: dict[str, Any]


# Per database binding (D1 bindings take no weak references): holding the binding keeps its id
# from being reused; the cache is small and simply starts over when it grows past its bound.
_formats: dict[int, tuple[Any, DateFormat]] = {}
_FORMATS_MAX = 64


class Store:
    """The users, accounts and sessions of one D1 database (``env.DB``)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    async def date_format(self) -> DateFormat:
        """How this database stores dates (cached per database binding)."""
        hit = _formats.get(id(self.db))
        if hit is not None and hit[0] is self.db:
            return hit[1]
        value = await self.db.prepare('SELECT "createdAt" FROM "user" LIMIT 1').first("createdAt")
        fmt = DateFormat.of(value) if value is not None else DateFormat.ISO
        if len(_formats) >= _FORMATS_MAX:
            _formats.clear()
        _formats[id(self.db)] = (self.db, fmt)
        return fmt

    async def date(self, ms: int | None) -> str | int | None:
        """Epoch milliseconds ready to bind in this database's date format."""
        return None if ms is None else (await self.date_format()).encode(ms)

    # -- users -------------------------------------------------------------------------------

    async def user_by_id(self, user_id: str) -> dict[str, Any] | None:
        sql = f'SELECT {_USER_SELECT} FROM "user" WHERE "id" = ?'
        return await self.db.prepare(sql).bind(user_id).first()  # type: ignore[no-any-return]

    async def user_by_email(self, email: str) -> dict[str, Any] | None:
        sql = f'SELECT {_USER_SELECT} FROM "user" WHERE "email" = ?'
        return await self.db.prepare(sql).bind(email.lower()).first()  # type: ignore[no-any-return]

    async def user_with_password(self, email: str) -> tuple[dict[str, Any] | None, str | None]:
        """The user with ``email`` and its credential account's password hash (one query)."""
        sql = (
            f"SELECT {_USER_SELECT_U}, "
            'a."password" AS "__password", a."id" AS "__account" FROM "user" u '
            'LEFT JOIN "account" a ON a."userId" = u."id" AND a."providerId" = \'credential\' '
            'AND a."accountId" = u."id" WHERE u."email" = ? LIMIT 1'
        )
        row = await self.db.prepare(sql).bind(email.lower()).first()
        if row is None:
            return None, None
        password = row.pop("__password", None)
        row.pop("__account", None)
        return row, password

    async def credential_account(self, user_id: str) -> dict[str, Any] | None:
        sql = (
            'SELECT "id", "password" FROM "account" WHERE "userId" = ? '
            "AND \"providerId\" = 'credential' LIMIT 1"
        )
        return await self.db.prepare(sql).bind(user_id).first()  # type: ignore[no-any-return]

    def _insert_user(self, user: Mapping[str, Any]) -> Any:
        sql = f'INSERT INTO "user" ({_USER_SELECT}) VALUES ({", ".join("?" * len(USER_COLUMNS))})'
        return self.db.prepare(sql).bind(*(user.get(c) for c in USER_COLUMNS))

    async def create_user(
        self,
        *,
        email: str,
        name: str,
        role: str,
        password_hash: str | None,
        image: str | None = None,
    ) -> dict[str, Any]:
        """Insert a user (and its credential account when a hash is given) in one batch."""
        now = await self.date(now_ms())
        user = {
            "id": generate_id(), "name": name, "email": email.lower(), "emailVerified": 0,
            "image": image, "createdAt": now, "updatedAt": now, "role": role, "banned": 0,
            "banReason": None, "banExpires": None,
        }  # fmt: skip
        statements = [self._insert_user(user)]
        if password_hash is not None:
            statements.append(
                self.db.prepare(
                    'INSERT INTO "account" ("id", "accountId", "providerId", "userId", "password", '
                    '"createdAt", "updatedAt") VALUES (?, ?, \'credential\', ?, ?, ?, ?)'
                ).bind(generate_id(), user["id"], user["id"], password_hash, now, now)
            )
        await self.db.batch(statements)
        return user

    async def update_user(self, user_id: str, fields: Mapping[str, Any]) -> dict[str, Any] | None:
        """Set allowlisted columns (dates as epoch ms) and ``updatedAt``; the updated row."""
        values: dict[str, Any] = {}
        for column, value in fields.items():
            if column not in USER_COLUMNS or column in ("id", "createdAt", "updatedAt"):
                raise ValueError(f"not an updatable user column: {column!r}")
            if column in USER_DATES and isinstance(value, int):
                value = await self.date(value)
            values[column] = int(value) if column in USER_BOOLEANS and value is not None else value
        values["updatedAt"] = await self.date(now_ms())
        assignments = ", ".join(f'"{c}" = ?' for c in values)
        sql = f'UPDATE "user" SET {assignments} WHERE "id" = ? RETURNING {_USER_SELECT}'
        return await self.db.prepare(sql).bind(*values.values(), user_id).first()  # type: ignore[no-any-return]

    async def set_password(self, account_id: str, password_hash: str) -> None:
        sql = 'UPDATE "account" SET "password" = ?, "updatedAt" = ? WHERE "id" = ?'
        await self.db.prepare(sql).bind(password_hash, await self.date(now_ms()), account_id).run()

    async def delete_user(self, user_id: str) -> None:
        """Remove a user with its sessions, accounts, API keys and refresh tokens."""
        tables = ("session", "account", "apikey", "refresh_token")
        column = {"apikey": "referenceId"}
        statements = [
            self.db.prepare(f'DELETE FROM "{t}" WHERE "{column.get(t, "userId")}" = ?').bind(
                user_id
            )
            for t in tables
        ]
        statements.append(self.db.prepare('DELETE FROM "user" WHERE "id" = ?').bind(user_id))
        await self.db.batch(statements)

    async def list_users(
        self,
        where: Sequence[tuple[str, str, Any]],
        *,
        limit: int | None,
        offset: int | None,
        sort: tuple[str, str] | None,
    ) -> tuple[list[dict[str, Any]], int]:
        """Users matching ``where`` [(column, operator, value)] and the total count."""
        clauses, params = _where(where)
        condition = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        order = f' ORDER BY "{sort[0]}" {sort[1].upper()}' if sort else " ORDER BY rowid"
        page = ""
        page_params: list[Any] = []
        if limit is not None or offset is not None:
            page = " LIMIT ? OFFSET ?"
            page_params = [limit if limit is not None else -1, offset or 0]
        rows = (
            await self.db.prepare(f'SELECT {_USER_SELECT} FROM "user"{condition}{order}{page}')
            .bind(*params, *page_params)
            .all()
        )
        total = (
            await self.db.prepare(f'SELECT count(*) AS n FROM "user"{condition}')
            .bind(*params)
            .first("n")
        )
        return list(rows.results), int(total or 0)

    # -- sessions ----------------------------------------------------------------------------

    async def create_session(
        self, user_id: str, expires_ms: int, ip: str | None, user_agent: str | None
    ) -> dict[str, Any]:
        now = await self.date(now_ms())
        row = {
            "id": generate_id(), "expiresAt": await self.date(expires_ms), "token": generate_id(),
            "createdAt": now, "updatedAt": now, "ipAddress": ip, "userAgent": user_agent,
            "userId": user_id, "impersonatedBy": None,
        }  # fmt: skip
        sql = (
            f'INSERT INTO "session" ({_SESSION_SELECT}) '
            f"VALUES ({', '.join('?' * len(SESSION_COLUMNS))})"
        )
        await self.db.prepare(sql).bind(*(row[c] for c in SESSION_COLUMNS)).run()
        return row

    async def session_with_user(self, token: str) -> SessionWithUser | None:
        """The session with ``token`` and its user, in one query."""
        sql = (
            f'SELECT {_JOINED_SELECT} FROM "session" s JOIN "user" u ON u."id" = s."userId" '
            'WHERE s."token" = ?'
        )
        row = await self.db.prepare(sql).bind(token).first()
        if row is None:
            return None
        session = {c: row[f"s_{c}"] for c in SESSION_COLUMNS}
        user = {c: row[f"u_{c}"] for c in USER_COLUMNS}
        return SessionWithUser(session, user)

    async def session_by_token(self, token: str) -> dict[str, Any] | None:
        sql = f'SELECT {_SESSION_SELECT} FROM "session" WHERE "token" = ?'
        return await self.db.prepare(sql).bind(token).first()  # type: ignore[no-any-return]

    async def refresh_session(self, token: str, expires_ms: int) -> dict[str, Any] | None:
        sql = (
            'UPDATE "session" SET "expiresAt" = ?, "updatedAt" = ? WHERE "token" = ? '
            f"RETURNING {_SESSION_SELECT}"
        )
        stmt = self.db.prepare(sql).bind(
            await self.date(expires_ms), await self.date(now_ms()), token
        )
        return await stmt.first()  # type: ignore[no-any-return]

    async def delete_session(self, token: str) -> None:
        await self.db.prepare('DELETE FROM "session" WHERE "token" = ?').bind(token).run()

    async def delete_user_sessions(self, user_id: str, *, except_token: str | None = None) -> None:
        if except_token is None:
            await self.db.prepare('DELETE FROM "session" WHERE "userId" = ?').bind(user_id).run()
        else:
            await (
                self.db.prepare('DELETE FROM "session" WHERE "userId" = ? AND "token" != ?')
                .bind(user_id, except_token)
                .run()
            )

    async def active_sessions(self, user_id: str) -> list[dict[str, Any]]:
        """The user's sessions that have not expired, oldest first."""
        rows = (
            await self.db.prepare(
                f'SELECT {_SESSION_SELECT} FROM "session" WHERE "userId" = ? AND "expiresAt" > ? '
                "ORDER BY rowid"
            )
            .bind(user_id, await self.date(now_ms()))
            .all()
        )
        return list(rows.results)


_OPERATORS = {
    "eq": ("=", "{}"), "ne": ("!=", "{}"), "lt": ("<", "{}"), "lte": ("<=", "{}"),
    "gt": (">", "{}"), "gte": (">=", "{}"), "contains": ("LIKE", "%{}%"),
    "starts_with": ("LIKE", "{}%"), "ends_with": ("LIKE", "%{}"),
}  # fmt: skip


def _where(where: Iterable[tuple[str, str, Any]]) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, operator, value in where:
        if column not in USER_COLUMNS or operator not in _OPERATORS:
            raise ValueError(f"bad filter {column!r} {operator!r}")
        sql_op, template = _OPERATORS[operator]
        if sql_op == "LIKE":
            escaped = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(f"\"{column}\" LIKE ? ESCAPE '\\'")
            params.append(template.format(escaped))
        else:
            clauses.append(f'"{column}" {sql_op} ?')
            params.append(value)
    return clauses, params
