"""The exception hierarchy every binding raises from, rooted at Pyodide's ``JsException``."""

from __future__ import annotations


class JsException(Exception):
    """Base of every error a binding raises, as Pyodide surfaces JS errors from bindings."""

    js_name = "Error"

    @property
    def name(self) -> str:
        return self.js_name

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class JsTypeError(JsException, TypeError):
    """A JS ``TypeError`` thrown by a binding (bad argument); also a Python ``TypeError``."""

    js_name = "TypeError"


class JsRangeError(JsException, ValueError):
    """A JS ``RangeError`` thrown by a binding (value out of range); also a ``ValueError``."""

    js_name = "RangeError"


class ConfigError(Exception):
    """Bad configuration: names the file, the key path and what is wrong."""

    def __init__(self, file: object, key: str, problem: str) -> None:
        self.file = str(file)
        self.key = key
        self.problem = problem
        where = f"{self.file}: {key}" if key else self.file
        super().__init__(f"{where}: {problem}")
