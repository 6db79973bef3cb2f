"""Reading ``wrangler_compat.toml`` (several workers) or a plain ``wrangler.toml``/``.jsonc``.

The vocabulary is wrangler's own. ``[env.<name>]`` overrides follow wrangler's inheritance
rules: bindings and vars are not inherited, everything else (main, routes, triggers, ...) is.
One deliberate difference: a worker keeps its name under ``--env`` (wrangler would deploy it as
``<name>-<env>``), because Hearth runs one environment at a time and service bindings,
``script_name`` and Durable Object ids refer to workers by name.

Secrets come from ``.dev.vars`` beside the config (``.dev.vars.<env>`` replaces it when it
exists), in dotenv syntax, and are given to every worker in the file. ``--env-file PATH``
(wrangler's flag; exported as ``HEARTH_ENV_FILE`` so server processes see it too) names the
secrets file instead, for production secrets kept outside the checkout.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bindings.errors import ConfigError
from bindings.jsobj import to_jsdict
from bindings.plugin import BindingDecl, BindingPlugin, ParseContext, plugin_classes

DEFAULT_CONFIG = "wrangler_compat.toml"

# Keys wrangler does not let an [env.*] table inherit from the top level.
NOT_INHERITED = frozenset(
    {
        "vars", "define", "durable_objects", "workflows", "kv_namespaces", "r2_buckets",
        "d1_databases", "services", "queues", "ai", "analytics_engine_datasets", "vectorize",
        "hyperdrive", "browser", "tail_consumers", "dispatch_namespaces", "mtls_certificates",
        "unsafe", "version_metadata", "send_email", "pipelines", "images",
        "secrets_store_secrets", "ratelimits", "containers",
    }
)  # fmt: skip

# Keys Hearth reads itself; plugins add the sections they own.
CORE_KEYS = frozenset(
    {"name", "main", "compatibility_date", "compatibility_flags", "routes", "route", "vars", "env"}
)

# wrangler keys that mean nothing locally (build, deploy and dashboard settings): accepted, ignored.
IGNORED_KEYS = frozenset(
    {
        "$schema", "account_id", "build", "workers_dev", "preview_urls", "observability",
        "placement", "limits", "upload_source_maps", "minify", "node_compat", "usage_model",
        "logpush", "rules", "find_additional_modules", "base_dir", "preserve_file_names",
        "no_bundle", "dev", "send_metrics", "keep_vars", "zone_id", "legacy_env", "site",
        "assets", "tail_consumers", "python_modules", "first_party_worker", "logfwdr",
    }
)  # fmt: skip

# wrangler binding types Hearth has no adapter for: named in the error rather than "unknown key".
UNSUPPORTED_BINDINGS = frozenset(
    {
        "vectorize", "hyperdrive", "analytics_engine_datasets", "browser", "dispatch_namespaces",
        "mtls_certificates", "workflows", "send_email", "images", "ratelimits", "pipelines",
        "secrets_store_secrets", "version_metadata", "containers", "unsafe",
    }
)  # fmt: skip


@dataclass
class WorkerConfig:
    """One worker's effective settings after env overrides, with its parsed bindings."""

    name: str
    main: str
    file: Path
    base_dir: Path
    prefix: str
    compatibility_date: str | None = None
    compatibility_flags: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    bindings: list[tuple[type[BindingPlugin], BindingDecl]] = field(default_factory=list)
    table: Mapping[str, Any] = field(default_factory=dict)

    def key(self, *parts: str | int) -> str:
        return ParseContext(self.file, self.prefix, self.name, self.base_dir, {}).key(*parts)

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(self.file, key, problem)


@dataclass
class Config:
    """Everything read from one config file."""

    file: Path
    env: str | None
    workers: list[WorkerConfig]
    hearth: Mapping[str, Any] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.file.parent

    def worker(self, name: str) -> WorkerConfig:
        for worker in self.workers:
            if worker.name == name:
                return worker
        raise KeyError(name)


def load(path: str | Path = DEFAULT_CONFIG, env: str | None = None) -> Config:
    """Read a config file; raise ConfigError naming the file, key and problem."""
    file = Path(path).resolve()
    if not file.is_file():
        raise ConfigError(file, "", "file not found")
    doc = _read_document(file)
    return from_document(doc, file, env)


def from_document(doc: Mapping[str, Any], file: Path, env: str | None = None) -> Config:
    """Build a Config from an already-parsed document (tests hand in dicts)."""
    secrets = read_dev_vars(file.parent, env)
    hearth = doc.get("hearth", {})
    if not isinstance(hearth, Mapping):
        raise ConfigError(file, "hearth", "must be a table")
    plugins = plugin_classes()

    if "workers" in doc:
        tables = doc["workers"]
        if not isinstance(tables, list) or not tables:
            raise ConfigError(file, "workers", "must be a non-empty array of tables")
        unknown = set(doc) - {"workers", "hearth", "compatibility_date", "compatibility_flags"}
        if unknown:
            raise ConfigError(file, sorted(unknown)[0], "unknown top-level key")
        entries = [(t, f"workers[{i}].") for i, t in enumerate(tables)]
    else:  # one Cloudflare Worker project
        entries = [({k: v for k, v in doc.items() if k != "hearth"}, "")]

    workers = []
    for table, prefix in entries:
        if not isinstance(table, Mapping):
            raise ConfigError(file, prefix.rstrip("."), "must be a table")
        defaults = {k: doc[k] for k in ("compatibility_date", "compatibility_flags") if k in doc}
        workers.append(_worker({**defaults, **table}, file, prefix, env, secrets, hearth, plugins))
    names = [w.name for w in workers]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ConfigError(file, f"workers[{i}].name", f"duplicate worker name {name!r}")
    return Config(file=file, env=env, workers=workers, hearth=hearth)


def _worker(
    table: Mapping[str, Any],
    file: Path,
    prefix: str,
    env: str | None,
    secrets: dict[str, str],
    hearth: Mapping[str, Any],
    plugins: list[type[BindingPlugin]],
) -> WorkerConfig:
    table, prefix = _apply_env(table, file, prefix, env)
    ctx = ParseContext(file, prefix, str(table.get("name", "")), file.parent, hearth)
    name = ctx.string(table, "name", ctx.key())
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise ctx.error(ctx.key("name"), "may contain only letters, digits, '-' and '_'")
    ctx = ParseContext(file, prefix, name, file.parent, hearth)
    main = table.get("main", "")  # required to run (checked when loading), not to read bindings
    if not isinstance(main, str):
        raise ctx.error(ctx.key("main"), "must be a string")

    owned = set(CORE_KEYS)
    for plugin in plugins:
        owned.update(plugin.sections)
    for key in table:
        if key in owned or key in IGNORED_KEYS:
            continue
        if key in UNSUPPORTED_BINDINGS:
            raise ctx.error(ctx.key(key), f"unsupported binding type {key!r}")
        raise ctx.error(ctx.key(key), "unknown key (not a wrangler setting Hearth knows)")

    flags = table.get("compatibility_flags", [])
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        raise ctx.error(ctx.key("compatibility_flags"), "must be an array of strings")
    date = table.get("compatibility_date")
    if date is not None and not (
        isinstance(date, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", date)
    ):
        raise ctx.error(ctx.key("compatibility_date"), "must be a date written YYYY-MM-DD")

    worker = WorkerConfig(
        name=name,
        main=main,
        file=file,
        base_dir=file.parent,
        prefix=prefix,
        compatibility_date=date,
        compatibility_flags=list(flags),
        routes=_routes(table, ctx),
        vars=_vars(table, ctx),
        secrets=dict(secrets),
        table=table,
    )
    seen: dict[str, str] = {k: ctx.key("vars", k) for k in worker.vars}
    for plugin in plugins:
        if not any(section in table for section in plugin.sections):
            continue
        for decl in plugin.parse(table, ctx):
            if decl.name in seen:
                raise ctx.error(decl.key, f"duplicate binding name {decl.name!r}")
            seen[decl.name] = decl.key
            worker.bindings.append((plugin, decl))
    return worker


def _apply_env(
    table: Mapping[str, Any], file: Path, prefix: str, env: str | None
) -> tuple[Mapping[str, Any], str]:
    envs = table.get("env", {})
    if not isinstance(envs, Mapping):
        raise ConfigError(file, f"{prefix}env", "must be a table of environments")
    if env is None or env not in envs:
        return table, prefix  # wrangler falls back to the top level when the env is not defined
    override = envs[env]
    if not isinstance(override, Mapping):
        raise ConfigError(file, f"{prefix}env.{env}", "must be a table")
    inherited = {k: v for k, v in table.items() if k not in NOT_INHERITED and k != "env"}
    return {**inherited, **override}, f"{prefix}env.{env}."


def _routes(table: Mapping[str, Any], ctx: ParseContext) -> list[str]:
    raw = table.get("routes", [])
    if "route" in table:
        raw = [table["route"], *raw] if isinstance(raw, list) else raw
    if not isinstance(raw, list):
        raise ctx.error(ctx.key("routes"), "must be an array of route patterns")
    routes = []
    for i, route in enumerate(raw):
        pattern = route.get("pattern") if isinstance(route, Mapping) else route
        if not isinstance(pattern, str) or not pattern.strip():
            raise ctx.error(ctx.key("routes", i), "must be a pattern string or {pattern = ...}")
        routes.append(pattern.strip())
    return routes


def _vars(table: Mapping[str, Any], ctx: ParseContext) -> dict[str, Any]:
    raw = table.get("vars", {})
    if not isinstance(raw, Mapping):
        raise ctx.error(ctx.key("vars"), "must be a table")
    return {k: to_jsdict(v) for k, v in raw.items()}


def _read_document(file: Path) -> dict[str, Any]:
    text = file.read_text(encoding="utf-8")
    try:
        if file.suffix in (".json", ".jsonc"):
            doc = json.loads(strip_jsonc(text))
        else:
            doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(
            file, "", f"not valid {file.suffix.lstrip('.') or 'toml'}: {exc}"
        ) from exc
    if not isinstance(doc, dict):
        raise ConfigError(file, "", "must be a table at the top level")
    return doc


_JSONC_COMMENT = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.S)
_JSONC_COMMA = re.compile(r'"(?:\\.|[^"\\])*"|,(?=\s*[}\]])')


def strip_jsonc(text: str) -> str:
    """Drop the comments and trailing commas that wrangler.jsonc allows and JSON does not."""
    keep_strings = lambda m: m.group(0) if m.group(0).startswith('"') else ""  # noqa: E731
    return _JSONC_COMMA.sub(keep_strings, _JSONC_COMMENT.sub(keep_strings, text))


_DOTENV_LINE = re.compile(
    r"""^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"((?:\\.|[^"\\])*)"|'([^']*)'|(.*?))\s*(?:\#.*)?$"""
)


def parse_dotenv(text: str, file: Path) -> dict[str, str]:
    """Parse dotenv syntax: ``KEY=value``, quoted values, ``export``, ``#`` comments."""
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _DOTENV_LINE.match(line)
        if not m:
            raise ConfigError(file, f"line {n}", "expected KEY=value")
        key, dq, sq, bare = m.groups()
        if dq is not None:
            value = dq.encode("utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8")
        else:
            value = sq if sq is not None else bare
        out[key] = value
    return out


ENV_FILE_VARIABLE = "HEARTH_ENV_FILE"


def read_dev_vars(base_dir: Path, env: str | None) -> dict[str, str]:
    """Secrets from $HEARTH_ENV_FILE, else ``.dev.vars[.<env>]`` beside the config."""
    named = os.environ.get(ENV_FILE_VARIABLE)
    if named:
        file = Path(named)
        if not file.is_file():
            raise ConfigError(
                file, "", f"file not found (named by --env-file / {ENV_FILE_VARIABLE})"
            )
        return parse_dotenv(file.read_text(encoding="utf-8"), file)
    candidates = [base_dir / f".dev.vars.{env}"] if env else []
    for file in [*candidates, base_dir / ".dev.vars"]:
        if file.is_file():
            return parse_dotenv(file.read_text(encoding="utf-8"), file)
    return {}
