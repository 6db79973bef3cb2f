"""The server's WebSocket transport: the writes of one loop turn leave as one send."""

import asyncio
import socket

from bindings.ws_protocol import TurnBufferedTransport


class Peer(asyncio.Protocol):
    """The far end of a real socket pair, recording what arrives."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.closed = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed.set()


async def pair() -> tuple[TurnBufferedTransport, asyncio.Transport, Peer]:
    loop = asyncio.get_running_loop()
    ours, theirs = socket.socketpair()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=ours)
    peer = Peer()
    await loop.create_connection(lambda: peer, sock=theirs)
    return TurnBufferedTransport(transport, loop), transport, peer


async def test_writes_of_one_turn_are_sent_together_in_order():
    buffered, raw, peer = await pair()
    sends = []
    real_write = raw.write
    raw.write = lambda data: (sends.append(data), real_write(data))  # type: ignore[method-assign]
    for frame in (b"one ", b"two ", b"three"):
        buffered.write(frame)
    assert sends == []  # nothing leaves before the turn ends
    await asyncio.sleep(0)
    buffered.write(b" four")
    await asyncio.sleep(0)
    assert sends == [b"one two three", b" four"]
    buffered.close()
    await asyncio.wait_for(peer.closed.wait(), 5)
    assert b"".join(peer.chunks) == b"one two three four"


async def test_close_sends_what_was_written_first_and_abort_drops_it():
    buffered, _, peer = await pair()
    buffered.write(b"close frame")
    buffered.close()
    await asyncio.wait_for(peer.closed.wait(), 5)
    assert b"".join(peer.chunks) == b"close frame"

    buffered, _, peer = await pair()
    buffered.write(b"never sent")
    buffered.abort()
    await asyncio.wait_for(peer.closed.wait(), 5)
    await asyncio.sleep(0)
    assert peer.chunks == [] and buffered.is_closing()
