"""``ctx.storage``: the Durable Object key-value API, transactions and alarms, with workerd's
rules and messages, over an ``ObjectDatabase`` (which alone speaks SQL).

Like workerd's, every operation happens when it is called and returns an awaitable of its
result: ``await storage.put(k, v)`` is the usual form, and a ``put`` that is never awaited (as
JS code often writes it) still takes effect. No operation yields to the event loop, so a
``get`` then ``put`` with no other await between them is atomic.

Values are structured clones (dict, list, str, int, float, bool, None, bytes, datetime, set);
keys are strings ordered by their UTF-8 bytes. As with workerd's SQLite backend (the one
Miniflare uses), there are no 2 KiB key / 128 KiB value / 128-key limits.
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from bindings.clone import deserialize, serialize
from bindings.durable_objects.errors import DurableObjectError
from bindings.errors import JsTypeError
from bindings.jsobj import options

if TYPE_CHECKING:
    from bindings.durable_objects.sql import SqlStorage
    from bindings.durable_objects.sqlite import ObjectDatabase

_MISSING: Any = object()
_Rows = list[tuple[str, bytes]]  # (``list`` is also a method name below)

SQL_DISABLED = (
    "SQL is not enabled for this Durable Object class. To enable it, change `new_classes` to "
    "`new_sqlite_classes` within the 'migrations' field in your wrangler.jsonc or wrangler.toml "
    "file. If using workerd directly,set `enableSql = true` in your workerd config for the "
    "class. Note that this change cannot be made after the class is already deployed to "
    "production."
)
KV_DISABLED = (
    "The storage.kv (synchronous KV) API is only available for SQLite-backed Durable Objects, "
    "but this object's namespace is not declared to use SQLite. You can use the older, "
    "asyncronous interface via methods of `storage` itself (e.g. `storage.get()`). "
    "Alternatively, to enable SQLite, change `new_classes` to `new_sqlite_classes` within the "
    "'migrations' field in your wrangler.jsonc or wrangler.toml file. If using workerd "
    "directly, set `enableSql = true` in your workerd config for the class. Note that this "
    "change cannot be made after the class is already deployed to production."
)


class StorageOwner(Protocol):
    """What storage needs from its live object."""

    sqlite: bool  # declared in new_sqlite_classes
    has_alarm_handler: bool
    deletes_alarm: bool  # deleteAll() also deletes the alarm (compat date >= 2026-02-24)

    def database(self) -> ObjectDatabase: ...

    def now_ms(self) -> int: ...

    def alarm_changed(self, scheduled_ms: int | None) -> None: ...

    def exclusive(self, fn: Callable[[], Awaitable[Any]]) -> Awaitable[Any]: ...


async def _resolved(value: Any) -> Any:
    return value


def _key(key: object) -> str:
    if type(key) is not str:
        raise JsTypeError(f"Durable Object storage keys must be strings, not {type(key).__name__}")
    return key


def _keys(keys: list[Any]) -> list[str]:
    return [_key(k) for k in keys]


class _Operations:
    """get/put/delete/list and the alarm methods, shared by storage and its transactions."""

    _storage: DurableObjectStorage

    def _db(self, op: str) -> ObjectDatabase:
        raise NotImplementedError

    def get(self, keys: str | list[str], opts: Any = None, /, **kw: Any) -> Awaitable[Any]:
        """A value (or None); for a list of keys, a dict of the keys found, in key order."""
        db = self._db("get()")
        if isinstance(keys, list):
            found = {k: deserialize(v) for k, v in db.get_many(_keys(keys))}
            return _resolved(found)
        data = db.get(_key(keys))
        return _resolved(None if data is None else deserialize(data))

    def put(
        self, key: str | dict[str, Any], value: Any = _MISSING, opts: Any = None, /, **kw: Any
    ) -> Awaitable[None]:
        """``put(key, value)``, or ``put(entries)`` with a dict of many."""
        db = self._db("put()")
        if isinstance(key, dict):
            if value is not _MISSING and value is not None and not isinstance(value, dict):
                raise JsTypeError(
                    "put() may only be called with a single key-value pair and optional options "
                    "as put(key, value, options) or with multiple key-value pairs and optional "
                    "options as put(entries, options)"
                )
            db.put_many([(_key(k), serialize(v)) for k, v in key.items()])
            return _resolved(None)
        if value is _MISSING:
            raise JsTypeError("put() called with undefined value.")
        db.put(_key(key), serialize(value))
        return _resolved(None)

    def delete(self, keys: str | list[str], opts: Any = None, /, **kw: Any) -> Awaitable[Any]:
        """True if the key existed; for a list of keys, how many existed."""
        db = self._db("delete()")
        if isinstance(keys, list):
            return _resolved(db.delete_many(_keys(keys)))
        return _resolved(db.delete(_key(keys)))

    def list(self, opts: Any = None, /, **kw: Any) -> Awaitable[dict[str, Any]]:
        """A dict of keys in order: ``start`` (inclusive) or ``startAfter``, ``end``
        (exclusive), ``prefix``, ``reverse`` (the last ``limit`` keys, descending), ``limit``."""
        rows = self._scan(self._db("list()"), options((opts,), kw))
        return _resolved({k: deserialize(v) for k, v in rows})

    @staticmethod
    def _scan(db: ObjectDatabase, o: dict[str, Any]) -> _Rows:
        start, start_after = o.get("start"), o.get("startAfter")
        end, prefix, limit = o.get("end"), o.get("prefix"), o.get("limit")
        if start is not None and start_after is not None:
            raise JsTypeError("list() cannot be called with both start and startAfter values.")
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0
        ):
            raise JsTypeError("List limit must be positive.")
        low, inclusive = (start, True) if start_after is None else (start_after, False)
        if low is not None:
            _key(low)
        if end is not None:
            _key(end)
        if prefix:
            if low is None or low < _key(prefix):
                low, inclusive = prefix, True
            upper = _after_prefix(prefix)
            if upper is not None and (end is None or upper < end):
                end = upper
        if low is not None and end is not None and low >= end:
            return []
        return db.scan(low, inclusive, end, bool(o.get("reverse")), limit)

    def getAlarm(self, opts: Any = None, /, **kw: Any) -> Awaitable[int | None]:
        """The alarm time in ms since the epoch, or None (also while the alarm handler runs)."""
        storage = self._storage
        db = self._db("getAlarm()")
        if storage._alarm_running and not storage._alarm_replaced:
            return _resolved(None)
        return _resolved(db.get_alarm())

    def setAlarm(
        self, scheduled: dt.datetime | float, opts: Any = None, /, **kw: Any
    ) -> Awaitable[None]:
        """Schedule the one alarm of this object (a datetime or ms since the epoch); a time in
        the past runs as soon as possible."""
        storage = self._storage
        if isinstance(scheduled, dt.datetime):
            if scheduled.tzinfo is None:
                scheduled = scheduled.astimezone()  # naive means local time, as Python does
            ms = int(scheduled.timestamp() * 1000)
        elif isinstance(scheduled, int | float) and not isinstance(scheduled, bool):
            ms = int(scheduled)
        else:
            raise JsTypeError("setAlarm() takes a datetime or a number of milliseconds")
        if ms <= 0:
            raise JsTypeError("setAlarm() cannot be called with an alarm time <= 0")
        if not storage._owner.has_alarm_handler:
            raise JsTypeError(
                "Your Durable Object class must have an alarm() handler in order to call setAlarm()"
            )
        ms = max(ms, storage._owner.now_ms())
        self._db("setAlarm()").set_alarm(ms)
        storage._alarm_replaced = True
        storage._owner.alarm_changed(ms)
        return _resolved(None)

    def deleteAlarm(self, opts: Any = None, /, **kw: Any) -> Awaitable[None]:
        storage = self._storage
        self._db("deleteAlarm()").set_alarm(None)
        storage._alarm_replaced = True
        storage._owner.alarm_changed(None)
        return _resolved(None)


class DurableObjectStorage(_Operations):
    """``ctx.storage``."""

    def __init__(self, owner: StorageOwner) -> None:
        self._owner = owner
        self._storage = self
        self._sql: SqlStorage | None = None
        self._alarm_running = False  # the alarm handler is running
        self._alarm_replaced = False  # ... and has set or deleted the alarm since it started

    def _db(self, op: str) -> ObjectDatabase:
        return self._owner.database()

    def deleteAll(self, opts: Any = None, /, **kw: Any) -> Awaitable[None]:
        """Delete every key, every SQL table and (from compat date 2026-02-24) the alarm."""
        db = self._owner.database()
        if db.depth:
            raise DurableObjectError("Cannot call deleteAll() within a transaction")
        had_alarm = db.get_alarm() is not None
        db.delete_everything(keep_alarm=not self._owner.deletes_alarm)
        if had_alarm and self._owner.deletes_alarm:
            self._alarm_replaced = True
            self._owner.alarm_changed(None)
        return _resolved(None)

    async def transaction(
        self, closure: Callable[[DurableObjectTransaction], Any], opts: Any = None
    ) -> Any:
        """Run ``closure(txn)`` atomically: its writes commit together, or roll back when it
        raises or calls ``txn.rollback()``. Other events wait until it is done, as on workerd."""

        async def run() -> Any:
            db = self._owner.database()
            txn = DurableObjectTransaction(self, db, db.savepoint())
            try:
                result = closure(txn)
                if inspect.isawaitable(result):
                    result = await result
            except BaseException:
                txn._finish(rollback=True)
                raise
            txn._finish(rollback=txn._rolled_back)
            return result

        return await self._owner.exclusive(run)

    def transactionSync(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn()`` in a savepoint: its writes commit with the event, or roll back (only
        this scope, when nested) if it raises."""
        db = self._owner.database()
        depth = db.savepoint()
        try:
            result = fn()
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise JsTypeError("transactionSync() takes a synchronous function")
        except BaseException:
            db.release(depth, rollback=True)
            raise
        db.release(depth)
        return result

    def sync(self) -> Awaitable[None]:
        """Resolve once every write so far is durable (they commit now)."""
        db = self._owner.database()
        db.commit()
        return _resolved(None)

    @property
    def sql(self) -> SqlStorage:
        """The synchronous SQL API (SQLite-backed classes only)."""
        if self._sql is None:
            if not self._owner.sqlite:
                raise DurableObjectError(SQL_DISABLED)
            from bindings.durable_objects.sql import SqlStorage

            self._sql = SqlStorage(self._owner)
        return self._sql

    @property
    def kv(self) -> SyncKV:
        """The synchronous key-value API (SQLite-backed classes only)."""
        if not self._owner.sqlite:
            raise DurableObjectError(KV_DISABLED)
        return SyncKV(self)


class DurableObjectTransaction(_Operations):
    """The ``txn`` of ``storage.transaction``; usable only inside the closure."""

    def __init__(self, storage: DurableObjectStorage, db: ObjectDatabase, depth: int) -> None:
        self._storage = storage
        self._database = db
        self._depth = depth
        self._rolled_back = False
        self._finished = False

    def _db(self, op: str) -> ObjectDatabase:
        if self._rolled_back:
            raise DurableObjectError(f"Cannot {op} on rolled back transaction")
        if self._finished:
            raise DurableObjectError(
                f"Cannot call {op} on transaction that has already committed: did you move "
                "`txn` outside of the closure?"
            )
        return self._database

    def rollback(self) -> None:
        """Discard this transaction's writes; it may be called more than once."""
        if self._rolled_back:
            return
        self._db("rollback()").rollback_to(self._depth)
        self._rolled_back = True

    def deleteAll(self, opts: Any = None, /, **kw: Any) -> None:
        raise DurableObjectError("Cannot call deleteAll() within a transaction")

    def _finish(self, rollback: bool) -> None:
        if self._finished:
            return
        self._database.release(self._depth, rollback=rollback)
        self._finished = True
        self._rolled_back = self._rolled_back or rollback


class SyncKV:
    """``ctx.storage.kv``: synchronous get/put/delete/list on the same keys."""

    def __init__(self, storage: DurableObjectStorage) -> None:
        self._storage = storage

    def get(self, key: str) -> Any:
        data = self._storage._db("get()").get(_key(key))
        return None if data is None else deserialize(data)

    def put(self, key: str, value: Any = _MISSING) -> None:
        if value is _MISSING:
            raise JsTypeError("put() called with undefined value.")
        self._storage._db("put()").put(_key(key), serialize(value))

    def delete(self, key: str) -> bool:
        return self._storage._db("delete()").delete(_key(key))

    def list(self, opts: Any = None, /, **kw: Any) -> Iterator[tuple[str, Any]]:
        """``(key, value)`` pairs in key order, with the options of ``storage.list``."""
        rows = self._storage._scan(self._storage._db("list()"), options((opts,), kw))
        return ((k, deserialize(v)) for k, v in rows)


def _after_prefix(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (None: none is)."""
    chars = list(prefix)
    while chars:
        point = ord(chars[-1]) + 1
        if point <= 0x10FFFF:
            if 0xD800 <= point <= 0xDFFF:
                point = 0xE000  # surrogates cannot be keys (no UTF-8 form)
            chars[-1] = chr(point)
            return "".join(chars)
        chars.pop()
    return None
