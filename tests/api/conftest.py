"""Fixtures of the api worker's tests (shared with tests/cart)."""

from tests.api.shop import admin, alice, bob, goods, shop  # noqa: F401
