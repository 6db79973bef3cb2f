"""D1 fixtures: every contract test runs against each backend factory in BACKENDS."""

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from bindings.d1.database import D1Database
from bindings.d1.sql import split
from bindings.d1.sqlite import SqliteDatabase


async def _sqlite(folder: Path) -> SqliteDatabase:
    return await SqliteDatabase.open(folder / "d1" / "test.sqlite")


# A new backend is one more factory here; the contract tests run against each of them.
BACKENDS: dict[str, Callable[[Path], Awaitable[SqliteDatabase]]] = {"sqlite": _sqlite}

SCHEMA = """
CREATE TABLE colours (id INTEGER PRIMARY KEY, name TEXT NOT NULL, rgb INTEGER NOT NULL);
CREATE TABLE kitchen_sink (id INTEGER PRIMARY KEY, int INTEGER, real REAL, text TEXT, blob BLOB);
CREATE TABLE palettes (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, colour_id INTEGER NOT NULL,
    FOREIGN KEY (colour_id) REFERENCES colours(id)
);
INSERT INTO colours (id, name, rgb)
    VALUES (1, 'red', 16711680), (2, 'green', 65280), (3, 'blue', 255);
INSERT INTO palettes (id, name, colour_id) VALUES (1, 'Night', 3);
"""


@pytest.fixture(params=sorted(BACKENDS))
async def store(request, tmp_path):
    opened = await BACKENDS[request.param](tmp_path)
    yield opened
    await opened.close()


@pytest.fixture
def db(store) -> D1Database:
    return D1Database(store)


@pytest.fixture
async def colours(db) -> D1Database:
    """The schema Miniflare's D1 suite uses: colours, kitchen_sink, palettes."""
    await db.batch([db.prepare(sql) for sql in split(SCHEMA)])
    return db
