"""The ``kv_namespaces`` section: one ``env.<binding>`` per entry, over the chosen backend.

```toml
[[workers.kv_namespaces]]
binding = "KV"
id = "products"            # same id in two workers = the same namespace (default: the binding)
backend = "redis"          # Hearth-only, optional: "sqlite" (default) or "redis"
cache_ttl = 0              # Hearth-only, optional: seconds a read may be cached (0 = never)

[hearth.kv]                # defaults for every namespace
backend = "redis"
redis_url = "redis://127.0.0.1:6379/0"   # else [hearth] redis_url, else HEARTH_REDIS_URL
redis_prefix = "hearth:kv:"
cache_ttl = 60
cache_size = 33554432      # bytes of values the per-process read cache may hold
sweep_interval = 60        # seconds between sweeps of expired Redis index entries
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bindings.errors import ConfigError
from bindings.kv.backends import KVBackend
from bindings.kv.cache import DEFAULT_MAX_BYTES, ReadCache
from bindings.kv.namespace import KVNamespace
from bindings.plugin import BindingDecl, BindingPlugin, ParseContext
from bindings.runtime import Runtime, Worker

BACKENDS = ("sqlite", "redis")
DEFAULT_CACHE_TTL = 60.0
DEFAULT_SWEEP_INTERVAL = 60.0
DEFAULT_REDIS_PREFIX = "hearth:kv:"

# wrangler's keys for a namespace (preview_id and remote mean nothing locally), then Hearth's.
ENTRY_KEYS = frozenset({"binding", "id", "preview_id", "remote", "experimental_remote"})
SETTING_KEYS = frozenset({"backend", "redis_url", "redis_prefix", "cache_ttl"})
GLOBAL_KEYS = SETTING_KEYS | {"cache_size", "sweep_interval"}

Store = tuple[str, ...]  # ("sqlite",) or ("redis", url, prefix): which backend holds the rows


@dataclass(frozen=True, kw_only=True)
class KVDecl(BindingDecl):
    id: str
    backend: str
    redis_url: str | None
    redis_prefix: str
    cache_ttl: float


class KVPlugin(BindingPlugin):
    kind = "kv"
    sections = ("kv_namespaces",)

    @classmethod
    def parse(cls, table: Mapping[str, Any], ctx: ParseContext) -> list[BindingDecl]:
        defaults = _settings(ctx.hearth.get("kv", {}), "hearth.kv", ctx, GLOBAL_KEYS)
        decls: list[BindingDecl] = []
        for entry, key in ctx.tables(table.get("kv_namespaces"), "kv_namespaces"):
            own = _settings(entry, key, ctx, ENTRY_KEYS | SETTING_KEYS)
            settings = {**defaults, **own}
            binding = ctx.string(entry, "binding", key)
            decls.append(
                KVDecl(
                    name=binding,
                    key=key,
                    id=ctx.string(entry, "id", key, default=binding),
                    backend=settings.get("backend", "sqlite"),
                    redis_url=settings.get("redis_url"),
                    redis_prefix=settings.get("redis_prefix", DEFAULT_REDIS_PREFIX),
                    cache_ttl=settings.get("cache_ttl", DEFAULT_CACHE_TTL),
                )
            )
        return decls

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self._backends: dict[Store, KVBackend] = {}
        self._caches: dict[Store, ReadCache] = {}

    def decls(self) -> list[tuple[str, KVDecl]]:
        """Every KV binding of the config, with the name of the worker declaring it."""
        return [
            (worker.name, decl)
            for worker in self.runtime.config.workers
            for _, decl in worker.bindings
            if isinstance(decl, KVDecl)
        ]

    def _store(self, decl: KVDecl) -> Store:
        if decl.backend == "sqlite":
            return ("sqlite",)
        from bindings.redis_pool import redis_url

        settings = {"redis_url": decl.redis_url} if decl.redis_url else None
        return ("redis", redis_url(self.runtime, settings), decl.redis_prefix)

    def check(self) -> None:
        """The same namespace id must live in the same store wherever it is bound."""
        seen: dict[str, tuple[Store, str]] = {}
        for worker, decl in self.decls():
            store = self._store(decl)
            first = seen.setdefault(decl.id, (store, worker))
            if first[0] != store:
                raise ConfigError(
                    self.runtime.config.file,
                    decl.key,
                    f"namespace id {decl.id!r} is also bound by worker {first[1]!r} with "
                    f"backend {first[0][0]!r}; one namespace lives in one backend",
                )

    async def open(self) -> None:
        self.check()
        for _, decl in self.decls():
            self.backend(decl)

    def backend(self, decl: KVDecl) -> KVBackend:
        """The backend holding ``decl``'s namespace (created on first use)."""
        store = self._store(decl)
        backend = self._backends.get(store)
        if backend is not None:
            return backend
        hearth_kv = self.runtime.config.hearth.get("kv", {})
        if store[0] == "sqlite":
            from bindings.kv.backends.sqlite import SQLiteBackend

            backend = SQLiteBackend(self.runtime.state_dir / "kv")
        else:
            from bindings.kv.backends.redis import RedisBackend
            from bindings.redis_pool import redis_client

            backend = RedisBackend(
                redis_client(self.runtime, store[1]),
                self.runtime.clock,
                prefix=store[2],
                sweep_interval=hearth_kv.get("sweep_interval", DEFAULT_SWEEP_INTERVAL),
            )
        self._backends[store] = backend
        self._caches[store] = ReadCache(
            self.runtime.clock, int(hearth_kv.get("cache_size", DEFAULT_MAX_BYTES))
        )
        return backend

    def namespace(self, decl: KVDecl) -> KVNamespace:
        """A ``KVNamespace`` for ``decl`` (commands use this without any worker loaded)."""
        backend = self.backend(decl)
        return KVNamespace(
            backend,
            decl.id,
            clock=self.runtime.clock,
            cache=self._caches[self._store(decl)],
            cache_ttl=decl.cache_ttl,
        )

    def bind(self, decl: BindingDecl, worker: Worker) -> KVNamespace:
        assert isinstance(decl, KVDecl)
        namespace = self.namespace(decl)
        self.backend(decl).watch(decl.id)
        return namespace

    async def close(self) -> None:
        backends, self._backends = self._backends, {}
        self._caches = {}
        for backend in backends.values():
            await backend.aclose()


def _settings(table: Any, key: str, ctx: ParseContext, allowed: frozenset[str]) -> dict[str, Any]:
    """Check the KV settings found in ``table`` (a namespace entry or [hearth.kv])."""
    if not isinstance(table, Mapping):
        raise ctx.error(key, "must be a table")
    for name in table:
        if name not in allowed:
            raise ctx.error(f"{key}.{name}", "unknown key")
    out: dict[str, Any] = {}
    if "backend" in table:
        if table["backend"] not in BACKENDS:
            raise ctx.error(f"{key}.backend", f"must be one of {', '.join(BACKENDS)}")
        out["backend"] = table["backend"]
    for name in ("redis_url", "redis_prefix"):
        if name in table:
            if not isinstance(table[name], str) or not table[name]:
                raise ctx.error(f"{key}.{name}", "must be a non-empty string")
            out[name] = table[name]
    for name in ("cache_ttl", "cache_size", "sweep_interval"):
        if name in table:
            value = table[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ctx.error(f"{key}.{name}", "must be a number >= 0")
            out[name] = value
    return out
