"""Matching requests to workers by wrangler route patterns.

A pattern is ``[host]/path`` with ``*`` matching any run of characters: ``api.example.com/*``,
``*.example.com/v1/*``, or host-less ``/products*`` (Hearth's form for one local origin). The
host part is compared without the port. When several patterns match, the most specific wins:
one naming a host beats one that does not, then the one with more literal characters, then
the one without a wildcard; ties go to the earlier worker in the config.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


def _matcher(pattern: str) -> Callable[[str], bool]:
    """A fast predicate for one glob: equality, prefix, suffix, or a compiled regex."""
    stars = pattern.count("*")
    if stars == 0:
        return pattern.__eq__
    if stars == 1 and pattern.endswith("*"):
        prefix = pattern[:-1]
        return lambda s: s.startswith(prefix)
    if stars == 1 and pattern.startswith("*"):
        suffix = pattern[1:]
        return lambda s: s.endswith(suffix)
    regex = re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.S)
    return lambda s: regex.fullmatch(s) is not None


@dataclass(frozen=True)
class Route(Generic[T]):
    pattern: str
    target: T
    host: Callable[[str], bool] | None
    path: Callable[[str], bool]
    rank: tuple[int, int, int]


def compile_route(pattern: str, target: T) -> Route[T]:
    if pattern.startswith("/"):
        host_glob, path_glob = None, pattern
    else:
        pattern_noscheme = pattern.split("://", 1)[-1]
        host_glob, slash, rest = pattern_noscheme.partition("/")
        path_glob = slash + rest if slash else "/*"  # a bare host (custom domain) takes every path
        host_glob = host_glob.rsplit(":", 1)[0] if ":" in host_glob else host_glob
    literal = len(path_glob.replace("*", "")) + len((host_glob or "").replace("*", ""))
    rank = (host_glob is not None, literal, "*" not in path_glob)
    host = None if host_glob in (None, "*") else _matcher(host_glob.lower())
    return Route(pattern, target, host, _matcher(path_glob), rank)


class Router(Generic[T]):
    """Routes tried most specific first; ``match`` returns the target or None."""

    def __init__(self, routes: Sequence[tuple[str, T]]) -> None:
        compiled = [compile_route(p, t) for p, t in routes]
        # Python's sort is stable, so equal ranks keep config order.
        self.routes = sorted(compiled, key=lambda r: r.rank, reverse=True)
        self._any_host = all(r.host is None for r in self.routes)

    def match(self, host: str | None, path: str) -> T | None:
        if self._any_host:
            for route in self.routes:
                if route.path(path):
                    return route.target
            return None
        hostname = _hostname(host)
        for route in self.routes:
            if (route.host is None or route.host(hostname)) and route.path(path):
                return route.target
        return None


def _hostname(host: str | None) -> str:
    """The Host header without its port, lower-cased (``[::1]:8787`` -> ``[::1]``)."""
    if not host:
        return ""
    if host.startswith("["):
        return host[: host.find("]") + 1].lower()
    return host.rsplit(":", 1)[0].lower()
