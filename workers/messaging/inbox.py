"""``Inbox``: one user's Durable Object (``env.INBOX.getByName(username)``).

It holds that user's sockets (hibernatable: the authenticated identity lives in each socket's
attachment, so it survives the object being evicted), their contacts and the frames waiting
for them. A socket starts unauthenticated with a fresh challenge; until it answers
``authenticate`` with a valid signature every other frame is refused. Relaying is an RPC from
the sender's inbox to each recipient's (``deliver``), which sends to the recipient's
authenticated sockets or, with none open, queues the frame for up to ``QUEUE_TTL_MS`` (an
alarm drops what is older) and at most ``MAX_QUEUED`` frames. The queue is sent, in order,
right after the next successful ``authenticate``, then deleted.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from workers import DurableObject, Response, WebSocketPair, WebSocketRequestResponsePair
from workers.common.attachments import Attachments
from workers.common.frames import dumps, parse, too_big
from workers.common.ratelimit import Bucket
from workers.messaging import keys
from workers.messaging.mailbox import ACCEPTED, INCOMING, REQUESTED, Mailbox
from workers.messaging.protocol import (
    CHALLENGE_BYTES,
    CHALLENGE_TTL_MS,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    MAX_FRAME_BYTES,
    MAX_PENDING_REQUESTS,
    MAX_QUEUED,
    MAX_RECIPIENTS,
    MAX_REF_CHARS,
    QUEUE_TTL_MS,
    auth_message,
    b64decode,
    b64encode,
    valid_username,
)
from workers.messaging.registry import NAME, setting, signing_key

if TYPE_CHECKING:
    from bindings.websocket import WebSocket

USER_HEADER = "x-messaging-user"  # set by the worker from the route, never by the client
PENDING, READY = "pending", "ready"
FRAMES_PER_SECOND = 20  # per socket, with bursts of twice that (the FRAMES_PER_SECOND var)

Session = dict[str, Any]  # a socket's attachment: user, state, challenge, deadline, host
Handler = Callable[["Inbox", "WebSocket", Session, dict[str, Any]], Awaitable[None]]


class Inbox(DurableObject):
    """One user's sockets, contacts and undelivered frames (see the module docstring)."""

    clock = staticmethod(time.time)  # tests pin it

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.mail = Mailbox(ctx.storage.sql)
        self.sessions: Attachments[Session] = Attachments()
        self.buckets: dict[WebSocket, Bucket] = {}
        self.rate = float(setting(env, "FRAMES_PER_SECOND", FRAMES_PER_SECOND))
        ctx.setWebSocketAutoResponse(
            WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}')
        )

    def _now(self) -> int:
        return int(self.clock() * 1000)

    # -- connecting -----------------------------------------------------------------------------

    async def fetch(self, request: Any) -> Response:
        """The upgrade the worker forwarded: accept it and send a fresh challenge."""
        user = request.headers.get(USER_HEADER)
        if request.headers.get("upgrade", "").lower() != "websocket" or not valid_username(user):
            return Response.json({"error": "Expected a WebSocket upgrade"}, status=426)
        client, server = WebSocketPair()
        self.ctx.acceptWebSocket(server, [user])
        challenge = secrets.token_bytes(CHALLENGE_BYTES)
        deadline = self._now() + CHALLENGE_TTL_MS
        host = _hostname(request.headers.get("host", ""))
        session = {"user": user, "state": PENDING, "challenge": challenge, "deadline": deadline,
                   "host": host}  # fmt: skip
        self.sessions.keep(server, session)
        expires = CHALLENGE_TTL_MS // 1000
        server.send(dumps({"type": "challenge", "challenge": b64encode(challenge),
                           "expiresIn": expires}))  # fmt: skip
        await self._schedule(deadline)
        return Response(None, status=101, web_socket=client)

    async def webSocketMessage(self, ws: WebSocket, message: str | bytes) -> None:
        if too_big(message, MAX_FRAME_BYTES):
            ws.close(CLOSE_TOO_BIG, "frame over 64 KiB")
            return
        session = self.sessions.get(ws)
        bucket = self.buckets.get(ws)
        if bucket is None:
            bucket = self.buckets[ws] = Bucket(self.rate, 2 * self.rate, time.monotonic())
        frame = parse(message)
        ref = _ref(frame)
        if not bucket.take(time.monotonic()):
            _error(ws, "rate_limited", "too many frames; slow down", ref)
            return
        if frame is None:
            _error(ws, "malformed", "frames are JSON objects with a string 'type'", ref)
            return
        kind = frame["type"]
        if session["state"] != READY:
            if kind != "authenticate":
                _error(ws, "not_authenticated", "authenticate first", ref)
                return
            await self._authenticate(ws, session, frame)
            return
        handler = HANDLERS.get(kind)
        if handler is not None:
            await handler(self, ws, session, frame)
        elif kind == "authenticate":
            _error(ws, "already_authenticated", "this socket is authenticated", ref)
        else:
            _error(ws, "unknown_type", f"unknown frame type {kind[:40]!r}", ref)

    async def webSocketClose(self, ws: WebSocket, code: int, reason: str, clean: bool) -> None:
        session = self.sessions.forget(ws)
        self.buckets.pop(ws, None)
        if session is not None and session["state"] == READY:
            await self._registry().seen(session["user"])

    async def webSocketError(self, ws: WebSocket, error: BaseException) -> None:
        self.sessions.forget(ws)
        self.buckets.pop(ws, None)

    async def _authenticate(self, ws: WebSocket, session: Session, frame: dict[str, Any]) -> None:
        username, signature = frame.get("username"), frame.get("signature")
        if not isinstance(username, str) or not isinstance(signature, str):
            _error(ws, "malformed", "authenticate takes username and signature", _ref(frame))
            return
        challenge = session["challenge"]
        self.sessions.keep(ws, {**session, "challenge": None})  # single use, whatever happens next
        if challenge is None or self._now() > session["deadline"]:
            ws.close(CLOSE_POLICY, "challenge expired")
            return
        record = (
            await self._registry().signingKey(username) if username == session["user"] else None
        )
        proof = b64decode(signature)
        message = auth_message(session["host"], username, challenge)
        if record is None or proof is None or not keys.verify(signing_key(record), proof, message):
            ws.close(CLOSE_POLICY, "authentication failed")
            return
        if ws.readyState != ws.OPEN:
            return  # the client left while the key was looked up
        self.sessions.keep(ws, {"user": username, "state": READY})
        frames = self.mail.frames()
        welcome = {"type": "authenticated", "success": True, "username": username,
                   "contacts": self.mail.contacts(), "queued": len(frames)}  # fmt: skip
        ws.send(dumps(welcome))
        for _, text in frames:  # in order; nothing can interleave: these calls never yield
            ws.send(text)
        if frames:
            self.mail.delete_through(frames[-1][0])
        await self._registry().seen(username)

    # -- consent ---------------------------------------------------------------------------------

    async def _connect_request(
        self, ws: WebSocket, session: Session, frame: dict[str, Any]
    ) -> None:
        me, target, ref = session["user"], self._target(ws, session, frame), _ref(frame)
        if target is None:
            return
        if self.mail.contact(target) == INCOMING:  # they asked first: asking back is agreeing
            await self._accept_connection(ws, session, frame)
            return
        if not await self._registry().exists(target):
            _error(ws, "unknown_user", f"no user named {target}", ref)
            return
        # Recorded before asking, so a request of theirs crossing ours finds it and both
        # sides end up connected.
        self.mail.set_contact(target, REQUESTED, self._now())
        outcome = await self._inbox(target).receiveRequest(me)
        if outcome == "full":
            _error(ws, "request_limit", f"{target} has too many requests waiting", ref)
            return
        if outcome == ACCEPTED:
            self.mail.set_contact(target, ACCEPTED, self._now())
        status = "accepted" if self.mail.contact(target) == ACCEPTED else "pending"
        _reply(ws, {"type": "request_sent", "target": target, "status": status}, ref)

    async def _accept_connection(
        self, ws: WebSocket, session: Session, frame: dict[str, Any]
    ) -> None:
        me, target, ref = session["user"], self._target(ws, session, frame), _ref(frame)
        if target is None:
            return
        asked = self.mail.contact(target) == INCOMING
        if not asked or not await self._inbox(target).receiveAcceptance(me):
            _error(ws, "no_request", f"{target} has not asked to connect", ref)
            return
        self.mail.set_contact(target, ACCEPTED, self._now())
        _reply(ws, {"type": "accepted", "target": target}, ref)

    def _target(self, ws: WebSocket, session: Session, frame: dict[str, Any]) -> str | None:
        """The frame's ``target``: another user, not yet a contact; else an error frame."""
        target, ref = frame.get("target"), _ref(frame)
        if not valid_username(target) or target == session["user"]:
            _error(ws, "malformed", f"{frame['type']} takes another user's name as target", ref)
            return None
        if self.mail.contact(target) == ACCEPTED:
            _error(ws, "already_connected", f"{target} is already a contact", ref)
            return None
        return target

    async def receiveRequest(self, sender: str) -> str:
        """RPC from ``sender``'s inbox: they ask to connect. "requested", "accepted" (this
        user had asked them too) or "full"."""
        state = self.mail.contact(sender)
        if state == ACCEPTED:
            return ACCEPTED
        if state == REQUESTED:
            self.mail.set_contact(sender, ACCEPTED, self._now())
            await self._push(dumps({"type": "connection_accepted", "from": sender}))
            return ACCEPTED
        if state != INCOMING:
            if self.mail.pending_requests() >= MAX_PENDING_REQUESTS:
                return "full"
            self.mail.set_contact(sender, INCOMING, self._now())
            await self._push(dumps({"type": "connection_request", "from": sender}))
        return REQUESTED

    async def receiveAcceptance(self, sender: str) -> bool:
        """RPC from ``sender``'s inbox: they accept this user's request. False when this
        user never asked (an acceptance cannot create consent on its own)."""
        state = self.mail.contact(sender)
        if state == REQUESTED:
            self.mail.set_contact(sender, ACCEPTED, self._now())
            await self._push(dumps({"type": "connection_accepted", "from": sender}))
        return state in (REQUESTED, ACCEPTED)

    # -- messages --------------------------------------------------------------------------------

    async def _encrypted_message(
        self, ws: WebSocket, session: Session, frame: dict[str, Any]
    ) -> None:
        me, ref = session["user"], _ref(frame)
        recipients, data = frame.get("recipients"), frame.get("encryptedData")
        if (
            not isinstance(recipients, list)
            or not 0 < len(recipients) <= MAX_RECIPIENTS
            or not all(valid_username(r) and r != me for r in recipients)
            or not isinstance(data, str)
            or not data
        ):
            error = (f"encrypted_message takes recipients (1-{MAX_RECIPIENTS} other users) "
                     "and encryptedData (a non-empty string)")  # fmt: skip
            _error(ws, "malformed", error, ref)
            return
        recipients = list(dict.fromkeys(recipients))
        strangers = [r for r in recipients if self.mail.contact(r) != ACCEPTED]
        if strangers:
            registry = self._registry()
            unknown = [r for r in strangers if not await registry.exists(r)]
            if unknown:
                _error(ws, "unknown_recipient", "no such user", ref, recipients=unknown)
                return
            _error(ws, "not_connected", "not an accepted contact", ref, recipients=strangers)
            return
        message_id = secrets.token_hex(8)
        out = dumps({"type": "encrypted_message", "from": me, "id": message_id,
                     "sentAt": self._now(), "data": data})  # fmt: skip
        if len(recipients) == 1:  # the usual case, without gather's task per call
            outcomes = [await self._inbox(recipients[0]).deliver(me, out)]
        else:
            outcomes = await asyncio.gather(*(self._inbox(r).deliver(me, out) for r in recipients))
        statuses = dict(zip(recipients, outcomes, strict=True))
        _reply(ws, {"type": "message_sent", "id": message_id, "recipients": statuses}, ref)

    async def deliver(self, sender: str, frame: str) -> str:
        """RPC from ``sender``'s inbox: a message frame. "delivered", "queued", "inbox_full",
        or "refused" when this user has not accepted ``sender``."""
        if self.mail.contact(sender) != ACCEPTED:
            return "refused"
        return await self._push(frame)

    async def _push(self, frame: str) -> str:
        """Send ``frame`` to every authenticated socket, or queue it when there is none."""
        ready = [
            ws
            for ws in self.ctx.getWebSockets()
            if ws.readyState == ws.OPEN and self.sessions.get(ws)["state"] == READY
        ]
        for ws in ready:
            ws.send(frame)
        if ready:
            return "delivered"
        if self.mail.queued() >= MAX_QUEUED:
            return "inbox_full"
        now = self._now()
        self.mail.enqueue(frame, now)
        await self._schedule(now + QUEUE_TTL_MS)
        return "queued"

    # -- expiry ------------------------------------------------------------------------------------

    async def alarm(self, info: Any = None) -> None:
        """Drop frames queued over ``QUEUE_TTL_MS`` ago; close sockets whose challenge ran out."""
        now = self._now()
        self.mail.expire(now - QUEUE_TTL_MS)
        for ws in self.ctx.getWebSockets():
            session = self.sessions.get(ws)
            if session["state"] == PENDING and session["deadline"] <= now:
                ws.close(CLOSE_POLICY, "authentication timed out")
        due = [s["deadline"] for s in map(self.sessions.get, self.ctx.getWebSockets())
               if s["state"] == PENDING and s["deadline"] > now]  # fmt: skip
        oldest = self.mail.oldest()
        if oldest is not None:
            due.append(oldest + QUEUE_TTL_MS)
        if due:
            await self.ctx.storage.setAlarm(min(due))

    async def _schedule(self, at_ms: int) -> None:
        """Have the alarm run by ``at_ms``."""
        current = await self.ctx.storage.getAlarm()
        if current is None or current > at_ms:
            await self.ctx.storage.setAlarm(at_ms)

    # -- plumbing ----------------------------------------------------------------------------------

    def _registry(self) -> Any:
        return self.env.REGISTRY.getByName(NAME)

    def _inbox(self, username: str) -> Any:
        return self.env.INBOX.getByName(username)


HANDLERS: dict[str, Handler] = {
    "connect_request": Inbox._connect_request,
    "accept_connection": Inbox._accept_connection,
    "encrypted_message": Inbox._encrypted_message,
}


def _ref(frame: dict[str, Any] | None) -> str | None:
    """The client's ``ref`` for a frame, echoed in the reply so it can match them."""
    ref = None if frame is None else frame.get("ref")
    return ref if isinstance(ref, str) and len(ref) <= MAX_REF_CHARS else None


def _reply(ws: WebSocket, frame: dict[str, Any], ref: str | None) -> None:
    if ref is not None:
        frame["ref"] = ref
    ws.send(dumps(frame))


def _error(ws: WebSocket, code: str, message: str, ref: str | None, **extra: Any) -> None:
    _reply(ws, {"type": "error", "code": code, "message": message, **extra}, ref)


def _hostname(host: str) -> str:
    """The name in a Host header, lowercase and without the port ("" when there is none)."""
    try:
        return urlsplit(f"//{host}").hostname or ""
    except ValueError:  # a malformed IPv6 literal: no signature can match it
        return ""
