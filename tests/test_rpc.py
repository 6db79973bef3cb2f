"""Exceptions crossing between processes arrive as they do in-process (``crossed``)."""

from bindings.clone import DataCloneError
from bindings.durable_objects import DurableObjectError
from bindings.errors import JsException, JsTypeError
from bindings.rpc import crossed, described, revived


class PaymentDeclined(Exception):
    pass


def test_revived_exceptions_match_crossed_ones():
    for exc in (
        ValueError("bad value"),
        KeyError("k"),
        JsTypeError("not a string"),
        DurableObjectError("reset"),
        DataCloneError("function object could not be cloned."),
        PaymentDeclined("card declined"),
    ):
        here, there = crossed(exc), revived(described(exc))
        assert type(there) is type(here)
        assert str(there) == str(here)
    declined = revived(described(PaymentDeclined("card declined")))
    assert isinstance(declined, JsException) and declined.name == "PaymentDeclined"


def test_a_peer_cannot_make_this_process_raise_or_import_anything_else():
    exit_ = revived({"module": "builtins", "type": "SystemExit", "message": "0"})
    assert isinstance(exit_, JsException) and type(exit_).__name__ == "SystemExit"
    unknown = revived({"module": "bindings.not_a_module", "type": "Oops", "message": "m"})
    assert isinstance(unknown, JsException) and str(unknown) == "m"
