"""Logging: human-readable in dev, one JSON object per line under ``serve``, and the access log."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import sys
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
    """JSON access-log lines, buffered in memory and written every ``interval`` seconds.

    A request costs one small ``json.dumps`` and a list append; the write happens off the
    request path, in one syscall per batch, and once more at shutdown.
    """

    def __init__(self, stream: IO[str] | None = None, interval: float = 0.25) -> None:
        self.stream = stream or sys.stderr
        self.interval = interval
        self._lines: list[str] = []
        self._timer: asyncio.TimerHandle | None = None

    def record(self, entry: dict[str, Any]) -> None:
        entry["ts"] = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        self._lines.append(json.dumps(entry, ensure_ascii=False))
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.interval, self.flush)

    def flush(self) -> None:
        self._timer = None
        if self._lines:
            lines, self._lines = self._lines, []
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.flush()
