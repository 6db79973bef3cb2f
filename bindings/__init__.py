"""Hearth's runtime: config, env, bindings, the host that serves workers, and test helpers.

Importing it also makes the compatibility modules ``js``, ``pyodide.ffi`` and top-level
``asgi`` importable, for Cloudflare code that uses them.
"""

from __future__ import annotations

import sys
from pathlib import Path

_SHIMS = str(Path(__file__).with_name("shims"))
if _SHIMS not in sys.path:
    sys.path.append(_SHIMS)

from bindings.clock import ManualClock, system_clock
from bindings.clone import DataCloneError, structured_clone
from bindings.config import Config, WorkerConfig
from bindings.config import load as load_config
from bindings.env import Env, ExecutionContext
from bindings.errors import ConfigError, JsException, JsRangeError, JsTypeError
from bindings.host import Host
from bindings.jsobj import JsDict
from bindings.runtime import Runtime, Worker

__all__ = [
    "Config",
    "ConfigError",
    "DataCloneError",
    "Env",
    "ExecutionContext",
    "Host",
    "JsDict",
    "JsException",
    "JsRangeError",
    "JsTypeError",
    "ManualClock",
    "Runtime",
    "Worker",
    "WorkerConfig",
    "load_config",
    "structured_clone",
    "system_clock",
]
