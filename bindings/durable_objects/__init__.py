"""Durable Objects: ids, stubs with fetch and RPC, storage (KV and SQL), transactions, alarms,
input/output gates and WebSockets with hibernation.

Modules: ``config`` (wrangler sections), ``ids``, ``namespace`` (bindings and stubs), ``host``
(live objects of a class: the one place an id becomes an instance, and every event), ``live``
(one instance and its gate), ``state`` (``ctx``), ``storage`` (the KV API), ``sql``,
``sqlite`` (the storage backend), ``alarms``, ``index``, ``hibernation``, ``commands`` and
``plugin``; with several server processes ``ownership`` (which process owns an id), ``remote``
(forwarding to the owner), ``endpoints`` (the owner's side) and ``wire``. How the guarantees are
held is described in ``sqlite`` and ``live``.
"""

from __future__ import annotations

from bindings.durable_objects.errors import (
    DurableObjectAbort,
    DurableObjectError,
    DurableObjectReset,
    SqlError,
)
from bindings.durable_objects.ids import DurableObjectId
from bindings.durable_objects.namespace import DurableObjectNamespace, DurableObjectStub
from bindings.durable_objects.plugin import DurableObjectsPlugin
from bindings.durable_objects.state import DurableObjectState
from bindings.durable_objects.storage import DurableObjectStorage, DurableObjectTransaction

__all__ = [
    "DurableObjectAbort",
    "DurableObjectError",
    "DurableObjectId",
    "DurableObjectNamespace",
    "DurableObjectReset",
    "DurableObjectState",
    "DurableObjectStorage",
    "DurableObjectStub",
    "DurableObjectTransaction",
    "DurableObjectsPlugin",
    "SqlError",
]
