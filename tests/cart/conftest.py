"""Fixtures of the cart worker's tests (the shop of tests/api)."""

from tests.api.shop import admin, alice, bob, goods, shop  # noqa: F401
