"""Importing a worker's ``main`` and finding its handlers the way workerd does.

``main`` may be:

- ``pkg.module:attr`` — ``attr`` is an ASGI app (Starlette, FastAPI, ...) or an entrypoint class;
- ``pkg.module`` — the module's ``class Default(WorkerEntrypoint)``, else a legacy module-level
  ``on_fetch``, else an ASGI app named ``app``;
- a file path such as ``src/entry.py``, resolved beside the config, with its folder importable
  (as Cloudflare uploads ``src/`` as the module root).

Whatever the form, the module's ``Default`` class (if any) also handles ``scheduled`` and
``queue`` events, and its other public ``WorkerEntrypoint`` subclasses are named entrypoints.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bindings.config import WorkerConfig
from bindings.entrypoints import DurableObject, WorkerEntrypoint, WorkflowEntrypoint

ENTRY_BASES = (WorkerEntrypoint, DurableObject, WorkflowEntrypoint)


@dataclass
class Main:
    """What a worker's main module provides."""

    module: ModuleType
    asgi_app: Any = None  # an ASGI callable answering fetch (fast path)
    default: type[WorkerEntrypoint] | None = None  # class Default
    on_fetch: Any = None  # legacy module-level handler
    entrypoints: dict[str, type[WorkerEntrypoint]] = field(default_factory=dict)
    classes: dict[str, type] = field(default_factory=dict)  # exported entry classes by name


def load_main(worker: WorkerConfig) -> Main:
    """Import ``worker.main``; raise ConfigError (file, key, problem) when that fails."""
    key = worker.key("main")
    if not worker.main:
        raise worker.error(key, "is required")
    spec, _, attr = worker.main.partition(":")
    try:
        if spec.endswith(".py") or "/" in spec:
            module = _import_file(worker.base_dir / spec)
        else:
            if str(worker.base_dir) not in sys.path:
                sys.path.append(str(worker.base_dir))
            module = importlib.import_module(spec)
    except FileNotFoundError:
        raise worker.error(key, f"file {spec!r} not found") from None
    except ModuleNotFoundError as exc:
        raise worker.error(key, f"cannot import {spec!r}: {exc}") from exc
    except Exception as exc:
        raise worker.error(key, f"importing {spec!r} failed: {type(exc).__name__}: {exc}") from exc

    main = Main(module=module, classes=_exported_classes(module))
    default = main.classes.get("Default")
    if default is not None and issubclass(default, WorkerEntrypoint):
        main.default = default
    main.entrypoints = {
        name: cls
        for name, cls in main.classes.items()
        if issubclass(cls, WorkerEntrypoint) and name != "Default"
    }
    on_fetch = getattr(module, "on_fetch", None)

    if attr:
        target = getattr(module, attr, None)
        if target is None:
            raise worker.error(key, f"module {spec!r} has no attribute {attr!r}")
        if inspect.isclass(target) and issubclass(target, WorkerEntrypoint):
            main.default = target
        elif callable(target):
            main.asgi_app = target
        else:
            raise worker.error(key, f"{spec}:{attr} is neither an ASGI app nor an entrypoint class")
    elif main.default is not None and on_fetch is not None:
        raise worker.error(key, "Cannot define multiple default entrypoints (Default and on_fetch)")
    elif main.default is None and on_fetch is not None:
        main.on_fetch = on_fetch
    elif main.default is None and callable(getattr(module, "app", None)):
        main.asgi_app = module.app
    elif main.default is None:
        raise worker.error(
            key, f"{spec!r} defines no class Default(WorkerEntrypoint), on_fetch or ASGI app"
        )
    if main.asgi_app is None and main.default is not None:
        # `Default = asgi.entrypoint(app)`: serve the app directly, without the Request detour.
        main.asgi_app = getattr(main.default, "__hearth_asgi_app__", None)
    return main


def _exported_classes(module: ModuleType) -> dict[str, type]:
    """Public entry classes, as workerd's introspection exports them (honouring __all__)."""
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    out = {}
    for name in names:
        value = getattr(module, name, None)
        if inspect.isclass(value) and issubclass(value, ENTRY_BASES) and value not in ENTRY_BASES:
            out[name] = value
    return out


def _import_file(path: Path) -> ModuleType:
    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(path)
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == path:
        return existing
    if existing is not None:
        name = f"_hearth_main_{abs(hash(str(path))):x}_{path.stem}"
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
