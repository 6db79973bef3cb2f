"""ctx.storage.sql: the cursor API, workerd's restrictions and messages."""

import pytest

from bindings import JsTypeError
from bindings.durable_objects import DurableObjectReset, SqlError
from bindings.durable_objects.sql import TRANSACTION_FORBIDDEN, split_statements
from bindings.testing import runInDurableObject

SOURCE = """
from workers import DurableObject, Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

class Db(DurableObject):
    def __init__(self, ctx, env):
        super().__init__(ctx, env)
        self.sql = ctx.storage.sql

    async def violate(self):
        self.sql.exec("CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY)")
        self.sql.exec("CREATE TABLE IF NOT EXISTS child (p INTEGER REFERENCES parent(id))")
        self.sql.exec("PRAGMA defer_foreign_keys = ON")
        self.sql.exec("INSERT INTO child VALUES (42)")

    async def tables(self):
        return [r.name for r in self.sql.exec("SELECT name FROM sqlite_master WHERE type='table'")]
"""


@pytest.fixture
async def h(do_app):
    return await do_app(SOURCE, bindings={"DB": "Db"}, sqlite=("Db",))


@pytest.fixture
async def sql(h):
    stub = h.env().DB.getByName("sql")
    return await runInDurableObject(stub, lambda instance, ctx: ctx.storage.sql)


async def test_fresh_database_size_is_one_page(sql):
    assert sql.databaseSize == 4096


async def test_cursor_api(sql):
    sql.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB)")
    cursor = sql.exec(
        "INSERT INTO t (name, score, data) VALUES (?, ?, ?), (?, ?, ?)",
        "ann", 1.5, b"\x01", "bob", 2.0, None,
    )  # fmt: skip
    assert cursor.rowsWritten == 2
    assert cursor.toArray() == []
    cursor = sql.exec("SELECT * FROM t ORDER BY id")
    assert cursor.columnNames == ["id", "name", "score", "data"]
    rows = list(cursor)
    assert rows == [
        {"id": 1, "name": "ann", "score": 1.5, "data": b"\x01"},
        {"id": 2, "name": "bob", "score": 2.0, "data": None},
    ]
    assert rows[0].name == "ann"
    assert cursor.rowsRead == 2 and cursor.rowsWritten == 0
    assert list(cursor) == []  # iteration consumed it
    assert list(sql.exec("SELECT id, name FROM t ORDER BY id").raw()) == [[1, "ann"], [2, "bob"]]
    one = sql.exec("SELECT name FROM t WHERE id = ?", 2).one()
    assert one == {"name": "bob"}
    partly = sql.exec("SELECT id FROM t ORDER BY id")
    assert partly.next() == {"done": False, "value": {"id": 1}}
    assert partly.toArray() == [{"id": 2}]
    assert partly.next().done is True
    assert sql.exec("UPDATE t SET score = score + 1").rowsWritten == 2


async def test_one_errors(sql):
    sql.exec("CREATE TABLE u (x)")
    with pytest.raises(
        SqlError, match=r"^Expected exactly one result from SQL query, but got no results.$"
    ):
        sql.exec("SELECT * FROM u").one()
    sql.exec("INSERT INTO u VALUES (1), (2)")
    with pytest.raises(
        SqlError, match=r"^Expected exactly one result from SQL query, but got multiple results.$"
    ):
        sql.exec("SELECT * FROM u").one()


async def test_multiple_statements(sql):
    cursor = sql.exec(
        "CREATE TABLE m (x); INSERT INTO m VALUES (1); -- comment; with a semicolon\n"
        "INSERT INTO m VALUES ('a;b'); SELECT count(*) AS n FROM m WHERE x != ?;", "zzz"
    )  # fmt: skip
    assert cursor.one().n == 2
    with pytest.raises(SqlError, match=r"only the last statement can have parameters"):
        sql.exec("INSERT INTO m VALUES (?); SELECT 1", 5)
    assert split_statements("SELECT 1; ; SELECT ';'; -- trailing") == ["SELECT 1;", "SELECT ';';"]


async def test_forbidden_statements(sql):
    for statement in [
        "BEGIN",
        "BEGIN TRANSACTION",
        "COMMIT",
        "SAVEPOINT sp",
        "RELEASE sp",
        "ROLLBACK",
    ]:
        with pytest.raises(SqlError) as info:
            sql.exec(statement)
        assert str(info.value) == TRANSACTION_FORBIDDEN
    assert TRANSACTION_FORBIDDEN.startswith(
        "To execute a transaction, please use the state.storage"
    )
    await sql._owner.storage.put("k", "v")  # the KV API's hidden table now exists
    with pytest.raises(SqlError, match=r"^access to _cf_KV.key is prohibited: SQLITE_AUTH$"):
        sql.exec("SELECT key FROM _cf_KV")
    with pytest.raises(SqlError, match=r"^not authorized to use function: sqlite_version: SQLITE_"):
        sql.exec("SELECT sqlite_version()")
    refused = [
        "CREATE TABLE _cf_mine (x)", "CREATE TABLE _CF_x (y)", "DROP TABLE _cf_KV",
        "INSERT INTO _cf_KV VALUES ('a', 'b')", "PRAGMA journal_mode", "PRAGMA writable_schema = 1",
        "PRAGMA page_size = 512", "PRAGMA table_info(_cf_KV)", "ATTACH DATABASE ':memory:' AS o",
        "CREATE TEMP TABLE tmp (x)",
    ]  # fmt: skip
    for statement in refused:
        with pytest.raises(SqlError, match=r"not authorized"):
            sql.exec(statement)


async def test_allowed_pragmas_functions_and_errors(sql):
    sql.exec("CREATE TABLE p (id INTEGER PRIMARY KEY, v TEXT)")
    assert [r.name for r in sql.exec("PRAGMA table_info(p)")] == ["id", "v"]
    assert sql.exec("PRAGMA foreign_keys").one().foreign_keys == 1
    sql.exec("PRAGMA foreign_keys = off")
    assert sql.exec("PRAGMA page_size").one().page_size == 4096
    assert sql.exec("SELECT json_extract('{\"a\": 3}', '$.a') AS a, upper('x') AS u").one() == {
        "a": 3,
        "u": "X",
    }
    sql.exec("CREATE VIRTUAL TABLE docs USING fts5(body)")
    with pytest.raises(SqlError, match=r'^near "SELEC": syntax error: SQLITE_ERROR$'):
        sql.exec("SELEC 1")
    with pytest.raises(SqlError, match=r"too many SQL variables"):
        sql.exec("SELECT " + ", ".join("?" * 101), *range(101))
    with pytest.raises(JsTypeError, match=r"Unsupported type of SQL binding"):
        sql.exec("SELECT ?", [1])


async def test_sql_and_kv_share_the_database_but_not_names(h):
    stub = h.env().DB.getByName("shared")

    async def scenario(instance, ctx):
        await ctx.storage.put("k", 1)
        ctx.storage.sql.exec("CREATE TABLE mine (x)")
        return await instance.tables()

    assert set(await runInDurableObject(stub, scenario)) == {"_cf_KV", "mine"}


async def test_constraint_violation_at_commit_resets_the_object(h):
    stub = h.env().DB.getByName("fk")
    with pytest.raises(
        DurableObjectReset,
        match=r"^Durable Object was reset and rolled back to its last known good state because "
        r"the application left the database in a state where constraints were violated: ",
    ):
        await stub.violate()
    tables = await stub.tables()
    assert "child" not in tables  # rolled back to the last good state
