"""Workers KV: ``env.<binding>`` for each ``kv_namespaces`` entry (see ``namespace`` for the API,
``backends`` for storage, ``cache`` for the per-process read cache and its consistency model)."""

from __future__ import annotations

from bindings.kv.errors import KVError, KVJSONError
from bindings.kv.namespace import KVNamespace
from bindings.kv.plugin import KVPlugin

__all__ = ["KVError", "KVJSONError", "KVNamespace", "KVPlugin"]
