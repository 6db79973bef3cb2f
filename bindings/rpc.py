"""Calls across the RPC boundary: copied arguments and results, and exceptions that cross.

Shared by service bindings and Durable Object stubs so both behave alike: arguments and
results are structured clones, a method must be a public plain function of the target class,
and an exception arrives as the same built-in type, the same Hearth binding error class (a
JsException defined in ``bindings``), or a JsException subclass of the same name, with the same
message, never with the callee's traceback or state attached. ``described`` and ``revived``
carry an exception the same way between processes (Durable Objects owned by another process).
"""

from __future__ import annotations

import builtins
import sys
from typing import Any

from bindings import errors
from bindings.clone import structured_clone
from bindings.entrypoints import rpc_methods
from bindings.errors import JsException, JsTypeError

_remote_types: dict[str, type[JsException]] = {}


def check_method(cls: type, name: str) -> None:
    """Raise workerd's TypeError unless ``name`` is an RPC method of ``cls``."""
    if name.startswith("_") or name not in _methods(cls):
        raise JsTypeError(f'The RPC receiver does not implement the method "{name}".')


def _methods(cls: type) -> set[str]:
    cached: set[str] | None = cls.__dict__.get("__hearth_rpc__")
    if cached is None:
        cached = rpc_methods(cls)
        type.__setattr__(cls, "__hearth_rpc__", cached)
    return cached


def copy_args(args: tuple[Any, ...]) -> list[Any]:
    return [structured_clone(a) for a in args]


def crossed(exc: BaseException) -> BaseException:
    """The exception the caller sees for ``exc`` raised by the callee."""
    cls = type(exc)
    message = str(exc)
    if _crosses_as_itself(cls):
        try:
            same: BaseException = cls(message)
            return same
        except TypeError:
            pass
    return _remote_type(cls.__name__)(message)


def described(exc: BaseException) -> dict[str, str]:
    """``exc`` as plain data for another process: its class's module and name, its message."""
    cls = type(exc)
    return {"module": cls.__module__, "type": cls.__name__, "message": str(exc)}


def revived(description: dict[str, str]) -> BaseException:
    """The exception ``crossed`` would give for the one ``described`` in another process.

    Only classes already imported here are used (a peer never makes this process import a
    module); any other name becomes a JsException subclass of that name, as in-process.
    """
    name, message = str(description["type"]), str(description["message"])
    module = sys.modules.get(str(description["module"]))
    cls = getattr(module, name, None) if module is not None else None
    if isinstance(cls, type) and issubclass(cls, Exception) and _crosses_as_itself(cls):
        try:
            same: BaseException = cls(message)
            return same
        except TypeError:
            pass
    return _remote_type(name)(message)


def _crosses_as_itself(cls: type[BaseException]) -> bool:
    """Built-in exceptions and Hearth's binding errors arrive as themselves."""
    return (
        getattr(builtins, cls.__name__, None) is cls
        or getattr(errors, cls.__name__, None) is cls
        or (issubclass(cls, JsException) and cls.__module__.startswith("bindings."))
    )


def _remote_type(name: str) -> type[JsException]:
    remote = _remote_types.get(name)
    if remote is None:
        remote = _remote_types[name] = type(name, (JsException,), {"js_name": name})
    return remote
