"""The binding plugin contract: each binding type parses its own config section and opens itself.

A plugin class owns one or more wrangler sections (``kv_namespaces``, ``durable_objects`` +
``migrations``, ...). ``parse`` runs while the config is read (no I/O); one plugin instance per
runtime then opens shared resources, hands each worker its binding objects and closes them.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from bindings.errors import ConfigError

if TYPE_CHECKING:
    from bindings.runtime import Runtime, Worker

# Every binding plugin, as "module:Class". A binding issue adds its line here.
PLUGINS: list[str] = [
    "bindings.services:ServicesPlugin",
    "bindings.kv:KVPlugin",
    "bindings.ai:AIPlugin",
    "bindings.queues:QueuesPlugin",
    "bindings.cron:CronPlugin",
    "bindings.durable_objects:DurableObjectsPlugin",
    "bindings.r2:R2Plugin",
    "bindings.d1:D1Plugin",
]


@dataclass(frozen=True, kw_only=True)
class BindingDecl:
    """One declared binding: the env attribute it becomes and where it was declared."""

    name: str
    key: str


@dataclass(frozen=True)
class ParseContext:
    """Where a worker table came from, so a plugin can name the file and key path of a problem."""

    file: Path
    prefix: str  # "workers[2]." in a wrangler_compat.toml, "" in a single-worker wrangler.toml
    worker: str
    base_dir: Path
    hearth: Mapping[str, Any]  # the [hearth] table: Hearth-only settings such as backends

    def key(self, *parts: str | int) -> str:
        """Join a key path: ``key("kv_namespaces", 1)`` -> ``workers[0].kv_namespaces[1]``."""
        out = self.prefix.rstrip(".")
        for part in parts:
            if isinstance(part, int):
                out += f"[{part}]"
            else:
                out = f"{out}.{part}" if out else part
        return out

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.file, key, problem)

    def tables(self, value: Any, *path: str | int) -> Iterator[tuple[Mapping[str, Any], str]]:
        """Yield each table of an array of tables (``[[kv_namespaces]]``) with its key path."""
        if value is None:
            return
        if not isinstance(value, list):
            raise self.error(self.key(*path), "must be an array of tables")
        for i, entry in enumerate(value):
            if not isinstance(entry, Mapping):
                raise self.error(self.key(*path, i), "must be a table")
            yield entry, self.key(*path, i)

    def optional(self, table: Mapping[str, Any], field: str, key: str) -> str | None:
        """An optional non-empty string field (None when absent)."""
        if table.get(field) is None:
            return None
        return self.string(table, field, key)

    def string(
        self, table: Mapping[str, Any], field: str, key: str, *, default: str | None = None
    ) -> str:
        """A required (or defaulted) non-empty string field."""
        value = table.get(field, default)
        if value is None:
            raise self.error(f"{key}.{field}", "is required")
        if not isinstance(value, str) or not value:
            raise self.error(f"{key}.{field}", "must be a non-empty string")
        return value


class BindingPlugin:
    """Base of binding plugins; subclasses set ``kind`` and ``sections`` and override hooks."""

    kind: ClassVar[str]
    sections: ClassVar[tuple[str, ...]]

    @classmethod
    def parse(cls, table: Mapping[str, Any], ctx: ParseContext) -> list[BindingDecl]:
        """Read this plugin's sections of one worker's effective table (no I/O)."""
        raise NotImplementedError

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def open(self) -> None:
        """Open process-wide resources (connections, clients) before any worker is bound."""

    def check(self) -> None:
        """Validate across workers once every main module is loaded; raise ConfigError."""

    def bind(self, decl: BindingDecl, worker: Worker) -> Any:
        """Return the object that becomes ``env.<decl.name>`` for ``worker``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release what ``open`` acquired; must be idempotent."""


def plugin_classes() -> list[type[BindingPlugin]]:
    """Import and return every registered plugin class."""
    classes = []
    for ref in PLUGINS:
        module, _, attr = ref.partition(":")
        classes.append(getattr(importlib.import_module(module), attr))
    return classes
