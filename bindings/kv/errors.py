"""KV's exceptions, carrying workerd's messages so Cloudflare code can match on them."""

from __future__ import annotations

import json

from bindings.errors import JsException


class KVError(JsException):
    """A KV operation failed, worded as workerd words it: ``KV <OP> failed: <status> <message>``.

    ``op`` is GET (also for ``list``), GET_BULK, PUT or DELETE; ``status`` is the HTTP status
    Cloudflare's KV service answers with (400, 413, 414; 500 for a storage failure here).
    """

    def __init__(self, op: str, status: int, message: str) -> None:
        super().__init__(f"KV {op} failed: {status} {message}")
        self.op = op
        self.status = status


class KVJSONError(JsException, json.JSONDecodeError):
    """A value read with type "json" is not JSON (a JS ``SyntaxError``; also a JSONDecodeError)."""

    js_name = "SyntaxError"

    @classmethod
    def of(cls, exc: json.JSONDecodeError) -> KVJSONError:
        return cls(exc.msg, exc.doc, exc.pos)
