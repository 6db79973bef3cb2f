"""The ``r2_buckets`` section: one R2Bucket per ``bucket_name``, on files (default) or any S3 API.

wrangler's keys (``binding``, ``bucket_name``; ``preview_bucket_name``, ``jurisdiction`` and
``remote`` are accepted and ignored) plus Hearth's storage keys, which may also sit in a
``[hearth.r2]`` table as defaults for every bucket::

    backend            "fs" (default) or "s3"
    durable            fs: fsync each write before it is visible (default false)
    endpoint, region   s3: the S3 API to use (else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL,
                       AWS_REGION / AWS_DEFAULT_REGION, as boto does)
    s3_bucket          s3: the S3 bucket (default: bucket_name; set in [hearth.r2], every
                       R2 bucket shares it under the prefix "<bucket_name>/")
    s3_prefix          s3: a key prefix inside the S3 bucket
    access_key_id,     s3: credentials (else boto's chain: AWS_ACCESS_KEY_ID /
    secret_access_key  AWS_SECRET_ACCESS_KEY, ~/.aws, instance roles...)

The same ``bucket_name`` in several workers is the same bucket (one backend per process).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bindings.errors import ConfigError
from bindings.plugin import BindingDecl, BindingPlugin, ParseContext
from bindings.r2.bucket import R2Bucket
from bindings.runtime import Runtime, Worker

if TYPE_CHECKING:
    from bindings.r2.backends import Backend
    from bindings.r2.backends.s3 import S3Clients

WRANGLER_KEYS = frozenset({"binding", "bucket_name", "preview_bucket_name", "jurisdiction",
                           "remote", "experimental_remote"})  # fmt: skip
STORE_KEYS = frozenset({"backend", "durable", "endpoint", "region", "s3_bucket", "s3_prefix",
                        "access_key_id", "secret_access_key"})  # fmt: skip
BACKENDS = ("fs", "s3")


@dataclass(frozen=True)
class Store:
    """Where one bucket's bytes live."""

    backend: str = "fs"
    durable: bool = False
    endpoint: str | None = None
    region: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = ""
    access_key_id: str | None = None
    secret_access_key: str | None = None


@dataclass(frozen=True, kw_only=True)
class R2Decl(BindingDecl):
    bucket_name: str
    store: Store


def _settings(table: Mapping[str, Any], key: str, ctx: ParseContext) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in STORE_KEYS & set(table):
        value = table[name]
        if name == "durable":
            if not isinstance(value, bool):
                raise ctx.error(f"{key}.{name}", "must be true or false")
        elif not isinstance(value, str) or (not value and name != "s3_prefix"):
            raise ctx.error(f"{key}.{name}", "must be a non-empty string")
        out[name] = value
    backend = out.get("backend")
    if backend is not None and backend not in BACKENDS:
        raise ctx.error(f"{key}.backend", f"must be one of {', '.join(map(repr, BACKENDS))}")
    return out


def _defaults(ctx: ParseContext) -> dict[str, Any]:
    table = ctx.hearth.get("r2", {})
    if not isinstance(table, Mapping):
        raise ctx.error("hearth.r2", "must be a table")
    for name in table:
        if name not in STORE_KEYS:
            raise ctx.error(f"hearth.r2.{name}", "unknown key")
    return _settings(table, "hearth.r2", ctx)


def store_for(bucket_name: str, entry: dict[str, Any], defaults: dict[str, Any]) -> Store:
    """A bucket's store: its own keys over the [hearth.r2] defaults."""
    merged = {**defaults, **entry}
    if merged.get("backend", "fs") == "s3":
        if "s3_bucket" in entry:
            merged.setdefault("s3_prefix", "")
        elif "s3_bucket" in defaults:  # one shared S3 bucket: a folder per R2 bucket
            merged.setdefault("s3_prefix", f"{bucket_name}/")
        else:
            merged["s3_bucket"] = bucket_name
    return Store(**merged)


def folder_name(bucket_name: str) -> str:
    """A bucket's folder under ``<state>/r2``: safe for any name (``"my/ Bucket"``, ``".."``)."""
    return quote(bucket_name, safe="-_").replace(".", "%2E").replace("~", "%7E")


class R2Plugin(BindingPlugin):
    kind = "r2"
    sections = ("r2_buckets",)

    @classmethod
    def parse(cls, table: Mapping[str, Any], ctx: ParseContext) -> list[BindingDecl]:
        defaults = _defaults(ctx)
        decls: list[BindingDecl] = []
        for entry, key in ctx.tables(table.get("r2_buckets"), "r2_buckets"):
            for name in entry:
                if name not in WRANGLER_KEYS | STORE_KEYS:
                    raise ctx.error(f"{key}.{name}", "unknown key")
            bucket_name = ctx.string(entry, "bucket_name", key)
            store = store_for(bucket_name, _settings(entry, key, ctx), defaults)
            decls.append(
                R2Decl(
                    name=ctx.string(entry, "binding", key),
                    key=key,
                    bucket_name=bucket_name,
                    store=store,
                )
            )
        return decls

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(runtime)
        self.buckets: dict[str, R2Bucket] = {}
        self._backends: list[Backend] = []
        self._s3: S3Clients | None = None

    def _decls(self) -> list[R2Decl]:
        return [
            decl
            for worker in self.runtime.config.workers
            for _, decl in worker.bindings
            if isinstance(decl, R2Decl)
        ]

    def check(self) -> None:
        stores: dict[str, R2Decl] = {}
        for worker in self.runtime.config.workers:
            for _, decl in worker.bindings:
                if not isinstance(decl, R2Decl):
                    continue
                first = stores.setdefault(decl.bucket_name, decl)
                if first.store != decl.store:
                    raise ConfigError(
                        worker.file,
                        decl.key,
                        f"bucket {decl.bucket_name!r} is stored differently in {first.key}",
                    )

    async def open(self) -> None:
        for decl in self._decls():
            await self.bucket(decl.bucket_name, decl.store)

    async def bucket(self, bucket_name: str, store: Store | None = None) -> R2Bucket:
        """The bucket named ``bucket_name`` (opened on first use; default store from the
        config's [hearth.r2] table, as for a bucket the command line names)."""
        bucket = self.buckets.get(bucket_name)
        if bucket is not None:
            return bucket
        if store is None:
            store = next((d.store for d in self._decls() if d.bucket_name == bucket_name), None)
        if store is None:
            config = self.runtime.config
            ctx = ParseContext(config.file, "", "", config.base_dir, config.hearth)
            store = store_for(bucket_name, {}, _defaults(ctx))
        backend = await self._backend(bucket_name, store)
        self._backends.append(backend)
        bucket = self.buckets[bucket_name] = R2Bucket(
            backend, clock=self.runtime.clock, name=bucket_name
        )
        return bucket

    async def _backend(self, bucket_name: str, store: Store) -> Backend:
        if store.backend == "s3":
            from bindings.r2.backends.s3 import S3Backend, S3Clients

            if self._s3 is None:
                self._s3 = S3Clients()
            client = await self._s3.client(store)
            assert store.s3_bucket is not None
            return S3Backend(client, store.s3_bucket, store.s3_prefix)
        from bindings.r2.backends.fs import FsBackend

        root = Path(self.runtime.state_dir) / "r2" / folder_name(bucket_name)
        return FsBackend(root, durable=store.durable)

    def bind(self, decl: BindingDecl, worker: Worker) -> R2Bucket:
        assert isinstance(decl, R2Decl)
        return self.buckets[decl.bucket_name]

    async def close(self) -> None:
        backends, self._backends = self._backends, []
        self.buckets.clear()
        for backend in backends:
            await backend.close()
        if self._s3 is not None:
            s3, self._s3 = self._s3, None
            await s3.aclose()
