"""Logging setup for the command line and the server."""

from __future__ import annotations

import logging
import os


def setup_logging(level: str | None = None) -> None:
    """Log to stderr at HEARTH_LOG_LEVEL (default INFO), once per process."""
    root = logging.getLogger()
    if getattr(root, "_hearth_configured", False):
        return
    root._hearth_configured = True  # type: ignore[attr-defined]
    logging.basicConfig(
        level=(level or os.environ.get("HEARTH_LOG_LEVEL", "INFO")).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
