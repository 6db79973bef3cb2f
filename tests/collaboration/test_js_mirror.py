"""The page's ot.js against ot.py and client.py: the same transforms, diffs and pieces on
thousands of random cases, and whole client lives (every edit, frame and outgoing operation
of clients in a simulated busy room) giving the same results, run under Node."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

from bindings.testing import require_service
from tests.collaboration.test_convergence import ACTIONS, Network
from workers.collaboration import ot
from workers.collaboration.client import ClientState

SCRIPT = Path(__file__).with_name("mirror.js")
# Astral characters are 2 UTF-16 units and 1 code point; these share high or low halves.
ALPHABET = ["a", "b", "\n", "😀", "😁", "🈀", "é", "🇫🇷"]


def text(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(size))


def random_ops(rng: random.Random, base: str) -> list[ot.Op]:
    ops: list[ot.Op] = []
    for _ in range(rng.randint(0, 3)):
        if base and rng.random() < 0.5:
            position = rng.randrange(len(base))
            op: ot.Op = ot.Delete(position, rng.randint(1, len(base) - position))
        else:
            op = ot.Insert(rng.randint(0, len(base)), text(rng, rng.randint(1, 3)))
        ops.append(op)
        base = ot.apply(base, op)
    return ops


def as_json(value: Any) -> Any:
    """Operations (and lists, tuples, dicts of them) as their JSON form."""
    if isinstance(value, ot.Insert | ot.Delete):
        return value.to_json()
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    return value


class Recorder(ClientState):
    """A ClientState that writes down each call and its result, for replaying in JS."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.script: list[list[Any]] = [["handle", {"type": "document_state", "sessionId":
                                         self.session, "document": {"content": self.content,
                                         "version": self.version}}]]  # fmt: skip
        self.results: list[Any] = [[]]

    def edit(self, op: ot.Op) -> None:
        self.script.append(["edit", op.to_json()])
        self.results.append(super().edit(op))

    def outgoing(self) -> dict[str, Any] | None:
        frame = super().outgoing()
        self.script.append(["outgoing", None])
        self.results.append(frame)
        return frame

    def handle(self, frame: dict[str, Any]) -> ot.Ops:
        applied = super().handle(frame)
        self.script.append(["handle", frame])
        self.results.append(applied)
        return applied

    def final(self) -> list[Any]:
        return [*self.results, [self.content, self.version, self.inflight, self.pending,
                                self.settled]]  # fmt: skip


def edit(rng: random.Random, client: ClientState) -> ot.Op:
    """A random edit of the client's text, now and then a paste long enough to be cut up."""
    ops = random_ops(rng, client.content)[:1]
    return ops[0] if ops else ot.Insert(0, "q" * 5000)


def busy_room(rng: random.Random) -> list[Recorder]:
    net = Network(3, text(rng, 4))
    net.clients = [Recorder(c.session, c.content, c.version) for c in net.clients]
    for _ in range(rng.randint(5, 60)):
        net.act(rng.choice(ACTIONS), rng.randrange(3), lambda client: edit(rng, client))
    net.settle()
    return net.clients  # type: ignore[return-value]


def test_ot_js_computes_what_the_python_does():
    require_service("node", shutil.which("node") is not None, "install Node.js")
    rng = random.Random(20260501)
    cases: dict[str, list[Any]] = {"transform": [], "diff": [], "pieces": [], "clients": []}
    expected: dict[str, list[Any]] = {key: [] for key in cases}
    for _ in range(3000):
        base = text(rng, rng.randint(0, 6))
        a, b, first = random_ops(rng, base), random_ops(rng, base), rng.random() < 0.5
        cases["transform"].append([as_json(a), as_json(b), first])
        expected["transform"].append(as_json(ot.transform(a, b, first)))
    for _ in range(500):
        old, new = text(rng, rng.randint(0, 6)), text(rng, rng.randint(0, 6))
        cases["diff"].append([old, new])
        expected["diff"].append(as_json(ot.diff(old, new)))
    for size in (1, 4095, 4096, 4097, 9000):
        op = ot.Insert(3, text(rng, size))
        cases["pieces"].append(op.to_json())
        expected["pieces"].append(as_json(ot.pieces(op)))
    for _ in range(150):
        for client in busy_room(rng):
            cases["clients"].append(client.script)
            expected["clients"].append(as_json(client.final()))
    done = subprocess.run(["node", str(SCRIPT)], input=json.dumps(cases), capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    got = json.loads(done.stdout)
    for key in ("transform", "diff", "pieces", "clients"):
        assert len(got[key]) == len(expected[key])
        for n, (js, py) in enumerate(zip(got[key], expected[key], strict=True)):
            assert js == py, (key, cases[key][n])
