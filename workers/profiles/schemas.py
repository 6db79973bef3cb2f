"""Request shapes (pydantic) mirroring the seed's zod schemas, with its limits: names 1-100,
notes at most 1000, limit 1-100, orderBy and order from enums. Bodies are strict (JSON types as
sent: ``"5"`` is not a number); query strings are lax (``?limit=10`` is a number). Unknown body
keys are ignored, as zod's objects strip them.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from workers.profiles import fingerprints

NAME_MAX = 100
NOTES_MAX = 1000
TAGS_MAX, TAG_MAX = 20, 50
SYNC_COOKIES_MAX = 5000
SYNC_STORAGE_KEYS_MAX = 10_000

Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=TAG_MAX)]
Notes = Annotated[str, StringConstraints(max_length=NOTES_MAX)]
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_HOST = re.compile(r"^[A-Za-z0-9.:\[\]-]{1,253}$")
PROXY_SCHEMES = ("http", "https", "socks4", "socks5")


def _timezone(value: str) -> str:
    if ("/" not in value and value != "UTC") or ".." in value:
        raise ValueError("must be an IANA time zone such as Europe/Berlin")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone such as Europe/Berlin") from None
    return value


def _language(value: str) -> str:
    if not _LANGUAGE.match(value):
        raise ValueError("must be a language tag such as en-US")
    return value


def _template(value: str) -> str:
    if value not in fingerprints.templates():
        raise ValueError(f"unknown template; one of {', '.join(fingerprints.templates())}")
    return value


def _proxy_url(value: str) -> str:
    if value == "":
        return value
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname or port is None:
        raise ValueError("must be a proxy URL such as socks5://user:pass@host:1080")
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError("must be an email address")
    return value.lower()


Timezone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_timezone)]
Language = Annotated[str, StringConstraints(max_length=35), AfterValidator(_language)]
TemplateId = Annotated[str, StringConstraints(max_length=64), AfterValidator(_template)]
ProxyUrl = Annotated[str, StringConstraints(max_length=500), AfterValidator(_proxy_url)]
Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(_email)]
Host = Annotated[str, StringConstraints(pattern=_HOST.pattern)]
Port = Annotated[int, Field(ge=1, le=65535)]
Secret = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    # Optional in an update, but a column that cannot be emptied: null is refused.
    NOT_NULL: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name in cls.NOT_NULL:
            raise ValueError("may not be null")
        return value

    def given(self) -> dict[str, Any]:
        """The fields the request set (``null`` included), by name."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateProfile(Body):
    name: Name
    templateId: TemplateId
    groupId: Label | None = None
    tags: Annotated[list[Tag], Field(max_length=TAGS_MAX)] = []
    timezone: Timezone | None = None
    language: Language | None = None
    proxyId: Id | None = None
    proxy: ProxyUrl = ""
    notes: Notes = ""


class UpdateProfile(Body):
    NOT_NULL = frozenset({"name", "tags", "timezone", "language", "proxy", "notes"})
    name: Name | None = None
    groupId: Label | None = None
    tags: Annotated[list[Tag], Field(max_length=TAGS_MAX)] | None = None
    timezone: Timezone | None = None
    language: Language | None = None
    proxyId: Id | None = None
    proxy: ProxyUrl | None = None
    notes: Notes | None = None


class Page(Query):
    limit: int = Field(50, ge=1, le=100)
    offset: int = Field(0, ge=0, le=1_000_000)


class ListProfiles(Page):
    groupId: Label | None = None
    search: Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX)] | None = None
    orderBy: Literal["name", "last_active", "created_at"] = "last_active"
    order: Literal["asc", "desc"] = "desc"


class SyncUpload(Body):
    cookies: Annotated[list[dict[str, Any]], Field(max_length=SYNC_COOKIES_MAX)]
    localStorage: Annotated[dict[str, str], Field(max_length=SYNC_STORAGE_KEYS_MAX)]
    clientHash: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] | None = None


class CreateTeam(Body):
    name: Name


class Invite(Body):
    email: Email
    role: Literal["admin", "member"] = "member"


class UpdateMember(Body):
    role: Literal["owner", "admin", "member"]


class CreateProxy(Body):
    name: Name
    type: Literal["http", "https", "socks4", "socks5"]
    host: Host
    port: Port
    username: Secret | None = None
    password: Secret | None = None


class UpdateProxy(Body):
    NOT_NULL = frozenset({"name", "type", "host", "port"})
    name: Name | None = None
    type: Literal["http", "https", "socks4", "socks5"] | None = None
    host: Host | None = None
    port: Port | None = None
    username: Secret | None = None
    password: Secret | None = None
