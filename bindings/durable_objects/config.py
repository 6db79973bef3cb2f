"""Reading ``durable_objects`` and ``migrations`` in wrangler's vocabulary.

Both wrangler spellings of the bindings work (``[[durable_objects.bindings]]`` and
``[durable_objects] bindings = [...]`` are the same table), as do ``[[migrations]]`` and the
``[[durable_objects.migrations]]`` some projects write. Migrations decide each class's storage:
``new_sqlite_classes`` get ``ctx.storage.sql``; ``new_classes`` (and classes no migration names,
as in Miniflare) get the key-value API only. A renamed class keeps its data and its ids: its
namespace key and state folder stay those of the name it was created under.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bindings.config import WorkerConfig
from bindings.errors import ConfigError
from bindings.plugin import BindingDecl, ParseContext

SETTINGS_KEY = "durable_objects"  # [hearth.durable_objects]
DEFAULT_IDLE_TIMEOUT = 10.0  # seconds, workerd's eviction delay
SYNCHRONOUS_MODES = ("NORMAL", "FULL")


@dataclass(frozen=True, kw_only=True)
class DurableObjectDecl(BindingDecl):
    """One ``durable_objects.bindings`` entry."""

    class_name: str
    script_name: str | None = None  # the worker defining the class; None: the declaring one


@dataclass
class Migrations:
    """The effect of one worker's migrations, applied in order."""

    sqlite: set[str] = field(default_factory=set)
    origin: dict[str, str] = field(default_factory=dict)  # class -> name its data lives under
    deleted: set[str] = field(default_factory=set)

    def storage_name(self, class_name: str) -> str:
        return self.origin.get(class_name, class_name)


@dataclass(frozen=True)
class Settings:
    """``[hearth.durable_objects]``: Hearth-only settings, which wrangler ignores."""

    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    synchronous: str = "NORMAL"


def parse_bindings(table: Mapping[str, Any], ctx: ParseContext) -> list[BindingDecl]:
    """The worker's Durable Object bindings; also validates its migrations and settings."""
    read_settings(ctx.hearth, ctx.file)
    read_migrations(table, ctx)
    section = table.get("durable_objects")
    if section is None:
        return []
    if not isinstance(section, Mapping):
        raise ctx.error(ctx.key("durable_objects"), "must be a table with a bindings array")
    unknown = set(section) - {"bindings", "migrations"}
    if unknown:
        raise ctx.error(ctx.key("durable_objects", sorted(unknown)[0]), "unknown key")
    decls: list[BindingDecl] = []
    for entry, key in ctx.tables(section.get("bindings"), "durable_objects", "bindings"):
        decls.append(
            DurableObjectDecl(
                name=ctx.string(entry, "name", key),
                key=key,
                class_name=ctx.string(entry, "class_name", key),
                script_name=ctx.optional(entry, "script_name", key),
            )
        )
    return decls


def read_migrations(table: Mapping[str, Any], ctx: ParseContext) -> Migrations:
    """Apply ``migrations`` (or ``durable_objects.migrations``) in order."""
    path: tuple[str, ...] = ("migrations",)
    entries = table.get("migrations")
    section = table.get("durable_objects")
    if entries is None and isinstance(section, Mapping) and "migrations" in section:
        path, entries = ("durable_objects", "migrations"), section["migrations"]
    out = Migrations()
    for i, (entry, key) in enumerate(ctx.tables(entries, *path)):
        for name in _names(entry, "new_classes", key, ctx):
            out.sqlite.discard(name)
            out.origin[name] = name
            out.deleted.discard(name)
        for name in _names(entry, "new_sqlite_classes", key, ctx):
            out.sqlite.add(name)
            out.origin[name] = name
            out.deleted.discard(name)
        for rename, rkey in ctx.tables(entry.get("renamed_classes"), *path, i, "renamed_classes"):
            old, new = ctx.string(rename, "from", rkey), ctx.string(rename, "to", rkey)
            if old in out.sqlite:
                out.sqlite.discard(old)
                out.sqlite.add(new)
            out.origin[new] = out.origin.pop(old, old)
            out.deleted.discard(new)
        for moved, mkey in ctx.tables(
            entry.get("transferred_classes"), *path, i, "transferred_classes"
        ):
            new = ctx.string(moved, "to", mkey)
            out.origin[new] = new
        for name in _names(entry, "deleted_classes", key, ctx):
            out.sqlite.discard(name)
            out.origin.pop(name, None)
            out.deleted.add(name)
    return out


def migrations_of(worker: WorkerConfig) -> Migrations:
    """A loaded worker's migrations (already validated when its config was read)."""
    ctx = ParseContext(worker.file, worker.prefix, worker.name, worker.base_dir, {})
    return read_migrations(worker.table, ctx)


def read_settings(hearth: Mapping[str, Any], file: object) -> Settings:
    """``[hearth.durable_objects]``: ``idle_timeout`` (seconds) and ``synchronous``."""
    raw = hearth.get(SETTINGS_KEY, {})
    where = f"hearth.{SETTINGS_KEY}"
    if not isinstance(raw, Mapping):
        raise ConfigError(file, where, "must be a table")
    unknown = set(raw) - {"idle_timeout", "synchronous"}
    if unknown:
        raise ConfigError(file, f"{where}.{sorted(unknown)[0]}", "unknown key")
    idle = raw.get("idle_timeout", DEFAULT_IDLE_TIMEOUT)
    if isinstance(idle, bool) or not isinstance(idle, int | float) or idle <= 0:
        raise ConfigError(file, f"{where}.idle_timeout", "must be a positive number of seconds")
    sync = raw.get("synchronous", "NORMAL")
    if not isinstance(sync, str) or sync.upper() not in SYNCHRONOUS_MODES:
        raise ConfigError(file, f"{where}.synchronous", 'must be "NORMAL" or "FULL"')
    return Settings(idle_timeout=float(idle), synchronous=sync.upper())


def _names(entry: Mapping[str, Any], field_name: str, key: str, ctx: ParseContext) -> list[str]:
    value = entry.get(field_name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ctx.error(f"{key}.{field_name}", "must be an array of class names")
    return value
