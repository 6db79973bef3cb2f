"""A client of the messaging worker: identity keys, registration, the authenticated socket,
consent and end-to-end-encrypted messages (``scripts/chat`` is a terminal around it).

    identity = Identity.generate("alice")
    async with ChatClient("http://127.0.0.1:8787", identity) as chat:
        await chat.register()
        await chat.connect()
        await chat.request("bob")
        ...
        await chat.send(["bob"], "hello")
        event = await chat.next()   # Incoming(kind="message", sender="bob", text="hi")

Keys of other users come from ``GET /api/users`` and are pinned on first use in the identity
(``pins``); a later answer with different keys raises ``KeyChanged`` instead of being trusted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from workers.common.frames import dumps
from workers.messaging.e2e import CannotOpen, open_sealed, seal
from workers.messaging.protocol import auth_message, b64decode, b64encode


def fingerprint(public_key: str, encryption_key: str | None) -> str:
    """A short, comparable digest of a user's two public keys (compare them out of band)."""
    digest = hashlib.sha256(
        (b64decode(public_key) or b"") + (b64decode(encryption_key or "") or b"")
    ).hexdigest()[:32]
    return " ".join(digest[i : i + 4] for i in range(0, 32, 4))


class ServerError(Exception):
    """An ``error`` frame (or HTTP error) answering one of this client's requests."""

    def __init__(self, code: str, message: str, frame: dict[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.frame = code, message, frame or {}


class Closed(Exception):
    """The server closed the socket (``code``: 1008 for failed authentication, 1009 ...)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed by the server ({code}: {reason})")
        self.code, self.reason = code, reason


class KeyChanged(Exception):
    """The server now gives other keys for a user than the ones pinned."""


@dataclass
class Identity:
    """A user's two private keys (Ed25519 signs, X25519 agrees) and the keys they pinned."""

    username: str
    signing: Any  # Ed25519PrivateKey
    agreement: Any  # X25519PrivateKey
    pins: dict[str, dict[str, str]] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def generate(cls, username: str) -> Identity:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        return cls(username, Ed25519PrivateKey.generate(), X25519PrivateKey.generate())

    @classmethod
    def load(cls, path: Path) -> Identity:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        data = json.loads(path.read_text())
        signing = Ed25519PrivateKey.from_private_bytes(b64decode(data["signingKey"]) or b"")
        agreement = X25519PrivateKey.from_private_bytes(b64decode(data["encryptionKey"]) or b"")
        return cls(data["username"], signing, agreement, data.get("pins", {}), path)

    def save(self, path: Path | None = None) -> None:
        """Write the keys to ``path`` (default: where they came from), readable by the owner
        only (0600, in a 0700 folder), replacing the file atomically."""
        path = path or self.path
        assert path is not None, "save(path) needs a path the first time"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {
            "username": self.username,
            "signingKey": b64encode(self.signing.private_bytes_raw()),
            "encryptionKey": b64encode(self.agreement.private_bytes_raw()),
            "pins": self.pins,
        }
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as file:
            json.dump(data, file, indent=2)
        os.replace(partial, path)
        self.path = path

    @property
    def public_key(self) -> str:
        return b64encode(self.signing.public_key().public_bytes_raw())

    @property
    def encryption_key(self) -> str:
        return b64encode(self.agreement.public_key().public_bytes_raw())


@dataclass
class Incoming:
    """Something the server pushed: ``kind`` is the frame's type, or "message" for a message
    that opened (``text``), or "unreadable" for one that did not."""

    kind: str
    sender: str | None = None
    text: str | None = None
    frame: dict[str, Any] = field(default_factory=dict)


class ChatClient:
    """One user's connection to a messaging server (see the module docstring)."""

    def __init__(
        self, server: str, identity: Identity, *, transcript: list[tuple[str, str]] | None = None
    ) -> None:
        self.server = server.rstrip("/")
        self.identity = identity
        self.transcript = transcript  # every frame sent and received, when a list is given
        self.http = httpx.AsyncClient(base_url=self.server, timeout=10)
        self.ws: ClientConnection | None = None
        self.authenticated: dict[str, Any] = {}
        self.contacts: dict[str, str] = {}  # peer -> requested | incoming | accepted
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._refs = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._seen: set[str] = set()  # ids of messages already shown (replays are dropped)
        self._leaving = False  # this side is closing: no "closed" event

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- HTTP ------------------------------------------------------------------------------------

    async def register(self) -> dict[str, Any]:
        """``POST /api/register`` with this identity's public keys."""
        me = self.identity
        body = {"username": me.username, "publicKey": me.public_key,
                "encryptionKey": me.encryption_key}  # fmt: skip
        response = await self.http.post("/api/register", json=body)
        if response.status_code != 201:
            raise _http_error(response)
        return response.json()  # type: ignore[no-any-return]

    async def lookup(self, username: str) -> dict[str, Any]:
        """A user's public record; its keys are pinned on first sight and checked after."""
        response = await self.http.get("/api/users", params={"username": username})
        if response.status_code != 200:
            raise _http_error(response)
        record: dict[str, Any] = response.json()
        keys = {"publicKey": record["publicKey"], "encryptionKey": record["encryptionKey"]}
        pinned = self.identity.pins.get(username)
        if pinned is None:
            self.identity.pins[username] = keys
            if self.identity.path is not None:
                self.identity.save()
        elif pinned != keys:
            raise KeyChanged(f"the server now gives other keys for {username}; not trusting them")
        return record

    # -- the socket ------------------------------------------------------------------------------

    async def connect(self) -> dict[str, Any]:
        """Open the socket, answer the challenge; the ``authenticated`` frame. Frames that
        were queued for this user follow it (its ``queued`` says how many)."""
        parts = urlsplit(self.server)
        scheme = "wss" if parts.scheme == "https" else "ws"
        url = f"{scheme}://{parts.netloc}/ws?username={quote(self.identity.username)}"
        self._leaving = False
        try:
            self.ws = await ws_connect(url, max_size=2**20, open_timeout=10)
        except InvalidStatus as exc:
            status = exc.response.status_code
            raise ServerError(str(status), exc.response.body.decode(errors="replace")) from None
        challenge = b64decode(json.loads(await self._recv()).get("challenge")) or b""
        me = self.identity.username
        proof = self.identity.signing.sign(auth_message(parts.hostname or "", me, challenge))
        await self._send({"type": "authenticate", "username": me, "signature": b64encode(proof)})
        reply: dict[str, Any] = json.loads(await self._recv())
        if reply.get("type") != "authenticated":
            raise ServerError(reply.get("code", "?"), reply.get("message", ""), reply)
        self.authenticated = reply
        self.contacts = dict(reply.get("contacts", {}))
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return reply

    async def request(self, target: str) -> dict[str, Any]:
        """``connect_request``: ask ``target`` to become a contact."""
        reply = await self.call({"type": "connect_request", "target": target})
        self.contacts[target] = "accepted" if reply.get("status") == "accepted" else "requested"
        return reply

    async def accept(self, target: str) -> dict[str, Any]:
        """``accept_connection``: agree to ``target``'s request."""
        reply = await self.call({"type": "accept_connection", "target": target})
        self.contacts[target] = "accepted"
        return reply

    async def send(self, recipients: list[str], text: str) -> dict[str, Any]:
        """Encrypt ``text`` for each recipient and send it; the ``message_sent`` frame."""
        keys = {}
        for name in recipients:
            record = await self.lookup(name)
            if not record.get("encryptionKey"):
                raise ServerError("no_key", f"{name} has no encryption key")
            keys[name] = b64decode(record["encryptionKey"]) or b""
        plaintext = json.dumps({"text": text, "to": recipients, "id": secrets.token_hex(8),
                                "sentAt": int(time.time() * 1000)})  # fmt: skip
        data = seal(self.identity.username, self.identity.agreement, keys, plaintext.encode())
        frame = {"type": "encrypted_message", "recipients": recipients, "encryptedData": data}
        return await self.call(frame)

    async def call(self, frame: dict[str, Any]) -> dict[str, Any]:
        """Send ``frame`` with a fresh ``ref``; the server's reply to it (ServerError for an
        ``error`` frame, Closed if the socket closes first)."""
        ref = str(next(self._refs))
        future = self._replies[ref] = asyncio.get_running_loop().create_future()
        try:
            await self._send({**frame, "ref": ref})
            return await asyncio.wait_for(future, 30)
        finally:
            self._replies.pop(ref, None)

    async def send_raw(self, data: str | bytes) -> None:
        """Send anything (tests of what the server refuses)."""
        assert self.ws is not None, "connect() first"
        if self.transcript is not None:
            self.transcript.append(("out", data if isinstance(data, str) else data.hex()))
        await self.ws.send(data)

    async def next(self, timeout: float | None = 30) -> Incoming:
        """The next thing the server pushed; messages are opened (and replays dropped)."""
        while True:
            frame = await asyncio.wait_for(self.events.get(), timeout)
            kind, sender = frame["type"], frame.get("from")
            if kind in ("connection_request", "connection_accepted") and sender:
                self.contacts[sender] = "incoming" if kind == "connection_request" else "accepted"
            if kind != "encrypted_message":
                return Incoming(kind, sender, None, frame)
            incoming = await self._open(frame)
            if incoming is not None:
                return incoming

    async def disconnect(self) -> None:
        """Close the socket (``connect()`` opens a new one)."""
        self._leaving = True
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self.ws = self._reader = None

    async def close(self) -> None:
        await self.disconnect()
        await self.http.aclose()

    # -- internals -------------------------------------------------------------------------------

    async def _open(self, frame: dict[str, Any]) -> Incoming | None:
        sender = frame.get("from", "")
        try:
            public = b64decode((await self.lookup(sender))["encryptionKey"]) or b""
            me, private = self.identity.username, self.identity.agreement
            plaintext = open_sealed(frame["data"], sender, public, me, private)
            body = json.loads(plaintext)
        except (CannotOpen, ServerError, KeyChanged, ValueError, KeyError, TypeError) as exc:
            return Incoming("unreadable", sender, str(exc), frame)
        if self.identity.username not in body.get("to", ()):
            return Incoming("unreadable", sender, "not addressed to this user", frame)
        if body.get("id") in self._seen:
            return None
        self._seen.add(body.get("id"))
        return Incoming("message", sender, body.get("text"), {**frame, "plaintext": body})

    async def _send(self, frame: dict[str, Any]) -> None:
        await self.send_raw(dumps(frame))

    async def _recv(self, timeout: float | None = 30) -> str:
        assert self.ws is not None
        try:
            data = await asyncio.wait_for(self.ws.recv(), timeout)
        except ConnectionClosed as exc:
            raise self._closed(exc) from None
        text = data if isinstance(data, str) else data.decode()
        if self.transcript is not None:
            self.transcript.append(("in", text))
        return text

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            while True:
                frame = json.loads(await self._recv(None))
                future = self._replies.get(frame.get("ref", ""))
                if future is None or future.done():
                    await self.events.put(frame)
                elif frame.get("type") == "error":
                    future.set_exception(
                        ServerError(frame.get("code", ""), frame.get("message", ""), frame)
                    )
                else:
                    future.set_result(frame)
        except Closed as exc:
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(exc)
            if not self._leaving:
                await self.events.put({"type": "closed", "code": exc.code, "reason": exc.reason})

    def _closed(self, exc: ConnectionClosed) -> Closed:
        received = exc.rcvd
        return Closed(received.code if received else None, received.reason if received else "")


def _http_error(response: httpx.Response) -> ServerError:
    """A ServerError from an HTTP answer: its status, and its JSON ``error`` if it has one."""
    try:
        message = str(response.json().get("error", ""))
    except (ValueError, AttributeError):
        message = response.text[:200]
    return ServerError(str(response.status_code), message)
