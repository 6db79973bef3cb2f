"""Entry classes (``WorkerEntrypoint``, ``DurableObject``) and workerd's ways of calling them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


class WorkerEntrypoint:
    """Base of a worker's ``Default`` class and of named entrypoints for service bindings.

    Constructed per event with ``(ctx, env)``; ``fetch(request)`` answers HTTP,
    ``scheduled(controller, env, ctx)`` and ``queue(batch, env, ctx)`` take all four parameters,
    and any other public method is callable over RPC.
    """

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class DurableObject:
    """Base of Durable Object classes; constructed once per live object with ``(ctx, env)``."""

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


class WorkflowEntrypoint:
    """Base of Workflow classes (accepted so such modules import; Workflows are not run)."""

    def __init__(self, ctx: Any, env: Any) -> None:
        self.ctx = ctx
        self.env = env


def positional_arity(func: Callable[..., Any]) -> int | None:
    """How many positional arguments ``func`` accepts (None: any number)."""
    params = inspect.signature(func).parameters.values()
    count = 0
    for p in params:
        if p.kind is p.VAR_POSITIONAL:
            return None
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return count


def relaxed(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``func`` so surplus positional arguments are dropped (workerd's relaxed call).

    ``fetch(self, request)`` and ``fetch(self)`` both work when the runtime passes
    ``(request, env, ctx)``. The arity is computed once, here, not per call.
    """
    arity = positional_arity(func)
    if arity is None:
        return func

    def call(*args: Any) -> Any:
        return func(*args[:arity])

    return call


def rpc_methods(cls: type) -> set[str]:
    """Public plain functions on ``cls`` (inherited ones too): what RPC may call."""
    names = set()
    for klass in cls.__mro__:
        if klass in (object, WorkerEntrypoint, DurableObject, WorkflowEntrypoint):
            continue
        for name, value in vars(klass).items():
            if not name.startswith("_") and inspect.isfunction(value):
                names.add(name)
    return names
