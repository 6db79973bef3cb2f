"""Request and binding metrics, kept in plain dicts and rendered as Prometheus text on demand.

Recording is a dict increment and a bisect per request — no locks, no library on the hot path.
With several server processes, the admin endpoint of any one of them gathers the others'
snapshots (over their admin sockets) and sums them, so one scrape sees the whole host.
"""

from __future__ import annotations

import functools
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from time import perf_counter
from typing import Any, ParamSpec, TypeVar

from bindings.env import current_worker

P = ParamSpec("P")
T = TypeVar("T")

# Latency buckets in seconds, from a cache hit to a slow upstream.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Labels = tuple[Any, ...]  # label values; rendered with str()
Gauge = Callable[[], Mapping[Labels, float]]


class Histogram:
    """Bucket counts, sum and count for one label set."""

    __slots__ = ("buckets", "count", "sum")

    def __init__(self) -> None:
        self.buckets = [0] * (len(BUCKETS) + 1)  # the last one is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect_left(BUCKETS, seconds)] += 1
        self.sum += seconds
        self.count += 1


class Metrics:
    """One process's metrics: requests, latencies, binding operations and sampled gauges."""

    def __init__(self) -> None:
        self.requests: defaultdict[Labels, int] = defaultdict(int)
        self.latency: defaultdict[Labels, Histogram] = defaultdict(Histogram)
        self.binding_ops: defaultdict[Labels, int] = defaultdict(int)
        self.binding_latency: defaultdict[Labels, Histogram] = defaultdict(Histogram)
        self.gauges: dict[str, tuple[str, tuple[str, ...], Gauge]] = {}

    def request(self, worker: str, route: str, status: int, seconds: float) -> None:
        self.requests[(worker, route, status)] += 1
        self.latency[(worker, route)].observe(seconds)

    def binding(self, kind: str, method: str, ok: bool, seconds: float) -> None:
        self.binding_ops[(kind, method, "ok" if ok else "error")] += 1
        self.binding_latency[(kind, method)].observe(seconds)

    def gauge(self, name: str, help_text: str, labels: tuple[str, ...], read: Gauge) -> None:
        """Register a gauge sampled at scrape time (live objects, sockets, queue depth...)."""
        self.gauges[name] = (help_text, labels, read)

    def snapshot(self) -> dict[str, Any]:
        """This process's values as JSON-able data (what peers send each other)."""
        gauges = {}
        for name, (help_text, labels, read) in self.gauges.items():
            gauges[name] = {
                "help": help_text,
                "labels": list(labels),
                "values": [[list(k), v] for k, v in read().items()],
            }
        return {
            "requests": [[list(k), v] for k, v in self.requests.items()],
            "latency": [[list(k), _hist(h)] for k, h in self.latency.items()],
            "binding_ops": [[list(k), v] for k, v in self.binding_ops.items()],
            "binding_latency": [[list(k), _hist(h)] for k, h in self.binding_latency.items()],
            "gauges": gauges,
        }


def timed(
    kind: str, name: str | None = None
) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Count and time a binding method in the current runtime's metrics (when they are on)."""

    def decorate(method: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        label = name or method.__name__

        @functools.wraps(method)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            worker = current_worker.get(None)
            metrics = worker.runtime.metrics if worker is not None else None
            if metrics is None:
                return await method(*args, **kwargs)
            start = perf_counter()
            ok = False
            try:
                result = await method(*args, **kwargs)
                ok = True
                return result
            finally:
                metrics.binding(kind, label, ok, perf_counter() - start)

        return wrapper

    return decorate


def _hist(h: Histogram) -> dict[str, Any]:
    return {"buckets": h.buckets, "sum": h.sum, "count": h.count}


def merge(snapshots: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Sum snapshots of several processes (gauges are summed too: live objects add up)."""
    counters: dict[str, defaultdict[Labels, float]] = {
        k: defaultdict(float) for k in ("requests", "binding_ops")
    }
    hists: dict[str, dict[Labels, dict[str, Any]]] = {"latency": {}, "binding_latency": {}}
    gauges: dict[str, dict[str, Any]] = {}
    for snap in snapshots:
        for key, store in counters.items():
            for labels, value in snap[key]:
                store[tuple(labels)] += value
        for key, hstore in hists.items():
            for labels, h in snap[key]:
                into = hstore.setdefault(tuple(labels), {"buckets": [0] * len(h["buckets"]),
                                                         "sum": 0.0, "count": 0})  # fmt: skip
                into["buckets"] = [
                    a + b for a, b in zip(into["buckets"], h["buckets"], strict=True)
                ]
                into["sum"] += h["sum"]
                into["count"] += h["count"]
        for name, g in snap["gauges"].items():
            into_g = gauges.setdefault(
                name, {"help": g["help"], "labels": g["labels"], "values": {}}
            )
            for labels, value in g["values"]:
                key_t = tuple(labels)
                into_g["values"][key_t] = into_g["values"].get(key_t, 0) + value
    return {"counters": counters, "hists": hists, "gauges": gauges}


def render(merged: Mapping[str, Any]) -> str:
    """Prometheus text exposition format (version 0.0.4)."""
    out: list[str] = []
    _counter(out, "hearth_requests_total", "HTTP requests and WebSocket sessions answered.",
             ("worker", "route", "status"), merged["counters"]["requests"])  # fmt: skip
    _histogram(out, "hearth_request_duration_seconds", "Time to answer a request.",
               ("worker", "route"), merged["hists"]["latency"])  # fmt: skip
    _counter(out, "hearth_binding_operations_total", "Binding method calls.",
             ("binding", "method", "outcome"), merged["counters"]["binding_ops"])  # fmt: skip
    _histogram(out, "hearth_binding_operation_duration_seconds", "Binding method call time.",
               ("binding", "method"), merged["hists"]["binding_latency"])  # fmt: skip
    for name, g in sorted(merged["gauges"].items()):
        out.append(f"# HELP {name} {g['help']}")
        out.append(f"# TYPE {name} gauge")
        for labels, value in sorted(g["values"].items()):
            out.append(f"{name}{_labels(g['labels'], labels)} {_num(value)}")
    return "\n".join(out) + "\n"


def _counter(
    out: list[str], name: str, help_text: str, names: Labels, values: Mapping[Labels, float]
) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} counter")
    for labels, value in sorted(values.items()):
        out.append(f"{name}{_labels(names, labels)} {_num(value)}")


def _histogram(
    out: list[str], name: str, help_text: str, names: Labels, values: Mapping[Labels, Any]
) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} histogram")
    for labels, h in sorted(values.items()):
        running = 0
        for bound, count in zip((*BUCKETS, float("inf")), h["buckets"], strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            out.append(f"{name}_bucket{_labels((*names, 'le'), (*labels, le))} {running}")
        out.append(f"{name}_sum{_labels(names, labels)} {_num(h['sum'])}")
        out.append(f"{name}_count{_labels(names, labels)} {h['count']}")


def _labels(names: Iterable[str], values: Iterable[str]) -> str:
    pairs = ",".join(f'{n}="{_escape(str(v))}"' for n, v in zip(names, values, strict=True))
    return "{" + pairs + "}" if pairs else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
