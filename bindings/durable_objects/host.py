"""``ObjectHost``: every live object of one Durable Object class in this process.

``live(id)`` is the single place where an id becomes a live instance (looked up, or constructed
with ``(ctx, env)`` of the worker defining the class). Under ``serve --workers N`` an object
lives only in the process owning its id (``ownership``): elsewhere ``call`` and ``fetch`` hand
the event to ``remote``, and ``live`` refuses to construct it. Every event (``fetch``, an RPC
call, a WebSocket event, an alarm, ``runInDurableObject``) goes through ``_event``, which waits
at the input gate, counts the event in flight and commits the object's writes before the result
leaves (the output gate).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bindings import gates
from bindings.clone import structured_clone
from bindings.durable_objects import sql
from bindings.durable_objects.errors import (
    DurableObjectAbort,
    DurableObjectError,
    DurableObjectReset,
)
from bindings.durable_objects.hibernation import HibernationGroup
from bindings.durable_objects.ids import DurableObjectId, IdFactory
from bindings.durable_objects.index import ClassIndex
from bindings.durable_objects.live import LiveObject
from bindings.durable_objects.sqlite import ObjectDatabase
from bindings.env import current_worker
from bindings.errors import JsTypeError
from bindings.jsobj import JsDict
from bindings.request import Request
from bindings.response import Response
from bindings.rpc import copy_args, crossed
from bindings.runtime import relaxed_method

if TYPE_CHECKING:
    from bindings.durable_objects.alarms import AlarmScheduler
    from bindings.durable_objects.remote import Remote
    from bindings.runtime import Runtime, Worker

log = logging.getLogger("hearth")

ALARM_TIMEOUT = 15 * 60.0  # seconds an alarm handler may run
DELETE_ALL_DELETES_ALARM_FROM = "2026-02-24"


@dataclass
class AlarmRun:
    """What running an object's alarm came to."""

    outcome: str  # "ok", "failed", "replaced" (set or deleted while running), "none", "later"
    at_ms: int | None = None  # the stored alarm time ("later"), or the one that ran
    error: BaseException | None = None


class ObjectHost:
    """The live objects of one class (see the module docstring)."""

    def __init__(
        self,
        runtime: Runtime,
        worker: Worker,
        cls: type,
        *,
        storage_name: str,
        sqlite: bool,
        directory: Path,
        synchronous: str = "NORMAL",
        scheduler: AlarmScheduler | None = None,
        remote: Remote | None = None,
    ) -> None:
        self.runtime = runtime
        self.worker = worker
        self.cls = cls
        self.class_name = cls.__name__
        self.sqlite = sqlite
        self.directory = directory
        self.synchronous = synchronous
        self.scheduler = scheduler
        self.remote = remote  # None with one server process: every object lives here
        self.clock = runtime.clock
        self.ids = IdFactory(f"{worker.name}-{storage_name}")
        self.has_alarm = callable(getattr(cls, "alarm", None))
        self.has_fetch = callable(getattr(cls, "fetch", None))
        self.deletes_alarm = _deletes_alarm(worker.config.compatibility_date,
                                            worker.config.compatibility_flags)  # fmt: skip
        self.objects: dict[str, LiveObject] = {}
        self.groups: dict[str, HibernationGroup] = {}
        self.index = ClassIndex(directory)

    # -- the one place an id becomes a live instance -------------------------------------------

    def live(self, id: DurableObjectId) -> LiveObject:
        """The live instance for ``id``, constructed now if there is none (at most one)."""
        obj = self.objects.get(id._hex)
        if obj is not None:
            return obj
        if self.remote is not None and not self.remote.owns(id._hex):
            owner = self.remote.ownership.owner(id._hex)
            raise DurableObjectError(
                f"Durable Object {self.class_name} {id} is owned by server process {owner}, "
                f"not by this one ({self.remote.ownership.index}); reach it through a stub"
            )
        # Construction never awaits (the database opens on first use), so two events cannot
        # both construct: no lock is needed. A constructor's blockConcurrencyWhile() closes the
        # object's gate before it returns, and the event that caused construction waits at it.
        obj = LiveObject(self, id)
        token = current_worker.set(self.worker)
        try:
            obj.instance = self.cls(obj.state, self.worker.env)
        except BaseException:
            obj.reset("the constructor failed")
            raise
        finally:
            current_worker.reset(token)
        self.objects[id._hex] = obj
        return obj

    def owns(self, hex_id: str) -> bool:
        """True when the object ``hex_id`` lives in this process (always, with one process)."""
        return self.remote is None or self.remote.owns(hex_id)

    def forget(self, obj: LiveObject) -> None:
        if self.objects.get(obj.id._hex) is obj:
            del self.objects[obj.id._hex]

    def open_database(self, obj: LiveObject) -> ObjectDatabase:
        self.directory.mkdir(parents=True, exist_ok=True)
        hex_id = obj.id._hex
        db = ObjectDatabase(
            self.directory / f"{hex_id}.sqlite",
            synchronous=self.synchronous,
            authorize=sql.authorize,
            on_failure=obj.fail,
        )
        if obj.id.name is not None:
            self.index.remember_name(hex_id, obj.id.name)
        return db

    def id_of(self, hex_id: str) -> DurableObjectId:
        """An id for an object found on disk (alarms), with its name when one was recorded."""
        live = self.objects.get(hex_id)
        if live is not None:
            return live.id
        return DurableObjectId(hex_id, self.ids.key, self.index.name_of(hex_id))

    # -- events ----------------------------------------------------------------------------------

    async def _event(self, id: DurableObjectId, invoke: Callable[..., Any], *args: Any) -> Any:
        obj = self.live(id)
        while obj.blocker is not None or obj.broken is not None:
            if obj.broken is not None:
                obj = self.live(id)
            else:
                await asyncio.shield(obj.blocker)  # type: ignore[arg-type]
        obj.active += 1
        token = current_worker.set(self.worker)
        gate = gates.enter(obj)
        try:
            result = invoke(obj, *args)
            if inspect.isawaitable(result):
                result = await result
        except DurableObjectAbort as exc:
            raise DurableObjectReset(str(exc)) from None
        except BaseException:
            if obj.broken is None:
                await obj.settle()  # writes made before the error stay, as on Cloudflare
            raise
        else:
            if obj.broken is not None:
                raise DurableObjectReset(obj.broken)
            await obj.settle()
        finally:
            gates.leave(gate)
            current_worker.reset(token)
            obj.active -= 1
            obj.last_used = time.monotonic()
        return result

    async def call(self, id: DurableObjectId, method: str, args: tuple[Any, ...]) -> Any:
        """An RPC call: arguments and result are structured clones; exceptions cross."""
        remote = self.remote
        if remote is not None and not remote.owns(id._hex):
            return await remote.call(self, id, method, args)
        copied = copy_args(args)
        try:
            result = await self._event(id, _invoke_method, method, copied)
        except DurableObjectReset:
            raise
        except Exception as exc:
            raise crossed(exc) from None
        return structured_clone(result)

    async def fetch(self, id: DurableObjectId, request: Request) -> Response:
        """Deliver ``request`` to the object's ``fetch``."""
        if not self.has_fetch:
            raise JsTypeError("Handler does not export a fetch() function.")
        remote = self.remote
        if remote is not None and not remote.owns(id._hex):
            return await remote.fetch(self, id, request)
        try:
            response: Response = await self._event(id, _invoke_fetch, request)
        except DurableObjectReset:
            raise
        except Exception as exc:
            raise crossed(exc) from None
        return response

    async def dispatch(self, id: DurableObjectId, handler: str, *args: Any) -> None:
        """A hibernatable WebSocket event (``webSocketMessage`` etc.); errors are logged."""
        if not callable(getattr(self.cls, handler, None)):
            return
        try:
            await self._event(id, _invoke_handler, handler, args)
        except Exception:
            log.exception("%s.%s failed", self.class_name, handler)

    async def run_in(self, id: DurableObjectId, fn: Callable[[Any, Any], Any]) -> Any:
        """``runInDurableObject``: ``fn(instance, ctx)`` as an event of the live object."""
        return await self._event(id, lambda obj: fn(obj.instance, obj.state))

    # -- WebSockets --------------------------------------------------------------------------------

    def group(self, id: DurableObjectId) -> HibernationGroup | None:
        return self.groups.get(id._hex)

    def group_for(self, id: DurableObjectId) -> HibernationGroup:
        group = self.groups.get(id._hex)
        if group is None:
            dispatch = functools.partial(self.dispatch, id)
            group = self.groups[id._hex] = HibernationGroup(dispatch, self.clock)
        return group

    # -- alarms ------------------------------------------------------------------------------------

    def alarm_changed(self, id: DurableObjectId, at_ms: int | None) -> None:
        if at_ms is not None:
            self.index.alarm_hint(id._hex, at_ms)
        if self.scheduler is not None:
            self.scheduler.schedule(self, id._hex, at_ms)

    async def run_alarm(self, hex_id: str, retry: int, *, force: bool = False) -> AlarmRun:
        """Run the object's alarm if it is due (or at once when ``force``)."""
        now = int(self.clock() * 1000)

        async def invoke(obj: LiveObject) -> AlarmRun:
            db = obj.database()
            at = db.get_alarm()
            if at is None:
                return AlarmRun("none")
            if at > now and not force:
                return AlarmRun("later", at)
            if not self.has_alarm:
                db.set_alarm(None)
                return AlarmRun("none")
            storage = obj.storage
            storage._alarm_running, storage._alarm_replaced = True, False
            info = JsDict(retryCount=retry, isRetry=retry > 0, scheduledTime=at)
            try:
                async with asyncio.timeout(ALARM_TIMEOUT):
                    await relaxed_method(obj.instance, "alarm")(info)
            except Exception as exc:
                if isinstance(exc, TimeoutError):
                    exc = DurableObjectError("Alarm exceeded its allowed execution time")
                return AlarmRun("replaced" if storage._alarm_replaced else "failed", at, exc)
            finally:
                storage._alarm_running = False
            if storage._alarm_replaced:
                return AlarmRun("replaced", at)
            db.set_alarm(None)
            return AlarmRun("ok", at)

        run: AlarmRun = await self._event(self.id_of(hex_id), invoke)
        if run.outcome in ("ok", "none"):
            self.index.alarm_done(hex_id)
        elif run.outcome == "later" and run.at_ms is not None:
            self.index.alarm_hint(hex_id, run.at_ms, exact=True)
        return run

    async def abandon_alarm(self, hex_id: str) -> None:
        """Give up on an alarm whose retries ran out: it is deleted."""

        def invoke(obj: LiveObject) -> None:
            obj.database().set_alarm(None)

        await self._event(self.id_of(hex_id), invoke)
        self.index.alarm_done(hex_id)

    # -- lifetime ----------------------------------------------------------------------------------

    async def evict_idle(self, idle: float) -> None:
        """Evict objects idle for ``idle`` seconds that hold no ordinary socket, yielding to
        the event loop after each (closing a file checkpoints its WAL: a few ms)."""
        for obj in list(self.objects.values()):
            if obj.idle_for(time.monotonic()) >= idle:  # checked again after every yield
                obj.evict()
                await asyncio.sleep(0)

    def close(self) -> None:
        for obj in list(self.objects.values()):
            try:
                obj.evict()
            except Exception:
                log.exception("closing Durable Object %s failed", obj.id)
        self.index.close()


def _invoke_method(obj: LiveObject, method: str, args: list[Any]) -> Any:
    return getattr(obj.instance, method)(*args)


async def _invoke_fetch(obj: LiveObject, request: Request) -> Response:
    response = await relaxed_method(obj.instance, "fetch")(request)
    if not isinstance(response, Response):
        raise JsTypeError(f"fetch() of a Durable Object must return a Response, not {response!r}")
    peer = response.web_socket._peer if response.web_socket is not None else None
    if peer is not None and peer._accepted:
        # An accept()ed socket keeps the object in memory until it closes.
        obj.sockets.add(peer)
        peer._on_closed.append(obj.sockets.discard)
    return response


def _invoke_handler(obj: LiveObject, handler: str, args: tuple[Any, ...]) -> Any:
    return relaxed_method(obj.instance, handler)(*args)


def _deletes_alarm(date: str | None, flags: list[str]) -> bool:
    if "delete_all_deletes_alarm" in flags:
        return True
    if "delete_all_preserves_alarm" in flags:
        return False
    return date is not None and date >= DELETE_ALL_DELETES_ALARM_FROM
