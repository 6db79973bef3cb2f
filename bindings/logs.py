"""Logging: human-readable in dev, one JSON object per line under ``serve``, and the access log."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Any

# Attributes a log call may add with `extra=` that the JSON formatter writes out.
_FIELDS = ("request_id", "worker", "route", "method", "path", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, known extra fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _FIELDS:
            if name in record.__dict__:
                entry[name] = record.__dict__[name]
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str | None = None, *, json_lines: bool | None = None) -> None:
    """Log to stderr at HEARTH_LOG_LEVEL (default INFO), as JSON lines when HEARTH_LOG_JSON=1."""
    root = logging.getLogger()
    if getattr(root, "_hearth_configured", False):
        return
    root._hearth_configured = True  # type: ignore[attr-defined]
    if json_lines is None:
        json_lines = os.environ.get("HEARTH_LOG_JSON") == "1"
    handler = logging.StreamHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel((level or os.environ.get("HEARTH_LOG_LEVEL", "INFO")).upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per outbound call is noise


class AccessLog:
    """JSON access-log lines, formatted and written every ``interval`` seconds in one batch.

    A request costs a tuple append; formatting (one C-encoded JSON object per line) and the
    single write happen off the request path, and once more at shutdown.
    """

    def __init__(self, stream: IO[str] | None = None, interval: float = 0.25) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self._pending: list[tuple[Any, ...]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._second = (0, "")

    def record(
        self,
        request_id: str,
        worker: str,
        route: str,
        method: str,
        path: str,
        status: int,
        seconds: float,
        client: str | None,
    ) -> None:
        self._pending.append(
            (time.time(), request_id, worker, route, method, path, status, seconds, client)
        )
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self.flush)

    def flush(self) -> None:
        self._timer = None
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        q = _quote
        lines = [
            f'{{"ts":"{self._timestamp(ts)}","level":"info","logger":"hearth.access",'
            f'"request_id":{q(request_id)},"worker":{q(worker)},"route":{q(route)},'
            f'"method":{q(method)},"path":{q(path)},"status":{status},'
            f'"duration_ms":{seconds * 1000:.3f},"client":{q(client) if client else "null"}}}'
            for ts, request_id, worker, route, method, path, status, seconds, client in pending
        ]
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()

    def _timestamp(self, ts: float) -> str:
        """ISO 8601 UTC with milliseconds; the formatted second is reused across its lines."""
        second = int(ts)
        if self._second[0] != second:
            iso = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (second, iso)
        return f"{self._second[1]}.{int((ts - second) * 1000):03d}Z"

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.flush()


# JSON string quoting in C (json's own encoder for str), for lines built with f-strings.
_quote: Callable[[str], str] = json.encoder.encode_basestring
