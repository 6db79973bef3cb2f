"""The D1 API contract: methods, type mapping, meta, batches, exec, sessions and error texts."""

import asyncio
import sqlite3

import pytest

from bindings import JsDict, JsException, JsTypeError
from bindings.d1 import database as d1
from bindings.d1.database import D1PreparedStatement
from bindings.d1.errors import D1Error

SYNTAX = 'D1_ERROR: near "PUT": syntax error: SQLITE_ERROR'


async def error_of(awaitable) -> str:
    with pytest.raises(D1Error) as info:
        await awaitable
    return str(info.value)


# -- prepare and bind -----------------------------------------------------------------------


async def test_bind_returns_a_new_statement_and_leaves_the_original(colours):
    stmt = colours.prepare("SELECT name FROM colours WHERE id = ?")
    bound = stmt.bind(2)
    assert isinstance(bound, D1PreparedStatement) and bound is not stmt
    assert (stmt.statement, stmt.params) == ("SELECT name FROM colours WHERE id = ?", [])
    assert bound.params == [2]
    assert await bound.first("name") == "green"
    assert await stmt.bind(3).first("name") == "blue"


async def test_values_round_trip_with_their_types(colours):
    insert = colours.prepare(
        "INSERT INTO kitchen_sink (id, int, real, text, blob) VALUES (?, ?, ?, ?, ?)"
    )
    await insert.bind(1, 42, 3.141, "🙈", [87, 97, 108, 108, 121]).run()
    await insert.bind(2, True, 1.0, "x", bytearray(b"\x00\xff")).run()
    await insert.bind(3, False, None, None, memoryview(b"mv")).run()
    await insert.bind(4, None, 2.5, "", (1, 2)).run()
    await insert.bind(5, 7, 0.5, "b", b"bytes").run()
    rows = await colours.prepare(
        "SELECT id, int, typeof(int) AS ti, real, typeof(real) AS tr, text, blob, "
        "typeof(blob) AS tb FROM kitchen_sink ORDER BY id"
    ).raw()
    assert rows == [
        [1, 42, "integer", 3.141, "real", "🙈", b"Wally", "blob"],
        [2, 1, "integer", 1.0, "real", "x", b"\x00\xff", "blob"],
        [3, 0, "integer", None, "null", None, b"mv", "blob"],
        [4, None, "null", 2.5, "real", "", b"\x01\x02", "blob"],
        [5, 7, "integer", 0.5, "real", "b", b"bytes", "blob"],
    ]


async def test_ints_bind_as_integer_and_floats_as_real(db):
    row = db.prepare("SELECT typeof(?) AS i, typeof(?) AS f, ? AS big").bind(1, 1.0, 2**53 - 1)
    assert await row.first() == {"i": "integer", "f": "real", "big": 2**53 - 1}


async def test_a_bound_buffer_is_copied_at_bind_time(colours):
    buffer = bytearray(b"abc")
    stmt = colours.prepare("INSERT INTO kitchen_sink (id, blob) VALUES (1, ?)").bind(buffer)
    buffer[0] = ord("z")
    await stmt.run()
    assert await colours.prepare("SELECT blob FROM kitchen_sink").first("blob") == b"abc"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"a": 1}, "D1_TYPE_ERROR: Type 'object' not supported for value '[object Object]'"),
        ([1, 256], "D1_TYPE_ERROR: Type 'object' not supported for value '1,256'"),
        ([1, None, True], "D1_TYPE_ERROR: Type 'object' not supported for value '1,,true'"),
        (2**53, "D1_TYPE_ERROR: Type 'bigint' not supported for value '9007199254740992'"),
        (-(2**63), f"D1_TYPE_ERROR: Type 'bigint' not supported for value '{-(2**63)}'"),
        (
            print,
            "D1_TYPE_ERROR: Type 'function' not supported for value '<built-in function print>'",
        ),
        ({1, 2}, "D1_TYPE_ERROR: Type 'object' not supported for value '{1, 2}'"),
    ],
)
async def test_unsupported_values_raise_cloudflares_type_error(db, value, message):
    with pytest.raises(D1Error) as info:
        db.prepare("SELECT ?").bind(value)
    assert str(info.value) == message
    assert isinstance(info.value, JsException)


async def test_numbered_and_named_parameters(colours):
    await (
        colours.prepare("INSERT INTO colours (id, name, rgb) VALUES (?3, ?1, ?2)")
        .bind("yellow", 0xFFFF00, 4)
        .run()
    )
    assert await colours.prepare("SELECT * FROM colours WHERE id = 4").first() == {
        "id": 4,
        "name": "yellow",
        "rgb": 0xFFFF00,
    }
    named = colours.prepare("SELECT :b AS b, :a AS a, :b || '!' AS again").bind("B", "A")
    assert await named.first() == {"b": "B", "a": "A", "again": "B!"}


async def test_null_update(colours):
    await colours.prepare("UPDATE kitchen_sink SET int = ?").bind(None).run()
    await colours.prepare("INSERT INTO kitchen_sink (id, text) VALUES (1, ?)").bind(None).run()
    assert await colours.prepare("SELECT text FROM kitchen_sink").first("text") is None


async def test_prepare_takes_a_string(db):
    with pytest.raises(JsTypeError):
        db.prepare(42)


# -- first / run / all / raw ----------------------------------------------------------------


async def test_first(colours):
    all_of = colours.prepare("SELECT * FROM colours ORDER BY id")
    assert await all_of.first() == {"id": 1, "name": "red", "rgb": 0xFF0000}
    assert await all_of.first("id") == 1
    assert await colours.prepare("SELECT * FROM colours WHERE id = 9").first() is None
    assert await colours.prepare("SELECT * FROM colours WHERE id = 9").first("nope") is None
    row = await all_of.first()
    assert isinstance(row, JsDict) and row.name == "red"


async def test_first_of_a_missing_column_raises_column_not_found(colours):
    message = await error_of(colours.prepare("SELECT * FROM colours").first("nope"))
    assert message == "D1_COLUMN_NOTFOUND: Column not found (nope)"


async def test_first_still_executes_writes(colours):
    insert = colours.prepare("INSERT INTO colours (name, rgb) VALUES ('yellow', 1)")
    assert await insert.first() is None
    assert await colours.prepare("SELECT count(*) AS n FROM colours").first("n") == 4


async def test_a_multi_statement_query_returns_the_last_result(colours):
    sql = "SELECT * FROM colours WHERE id = 1; SELECT * FROM colours WHERE id = 3"
    assert await colours.prepare(sql).first("name") == "blue"
    assert await colours.prepare(sql).raw() == [[3, "blue", 255]]
    both = "INSERT INTO colours (name, rgb) VALUES ('a', 1); SELECT count(*) AS n FROM colours"
    assert (await colours.prepare(both).all()).results == [{"n": 4}]


async def test_run_on_a_select_returns_rows_and_meta(colours):
    result = await colours.prepare("SELECT * FROM colours").run()
    assert isinstance(result, JsDict) and result.success is True
    assert [r.name for r in result.results] == ["red", "green", "blue"]
    meta = result.meta
    assert (meta.changes, meta.changed_db, meta.rows_read, meta.rows_written) == (0, False, 3, 0)
    assert meta.served_by == "hearth.db" and meta.served_by_primary is True
    assert isinstance(meta.duration, float) and meta.duration >= 0
    assert set(meta) == {
        "served_by", "served_by_primary", "duration", "changes", "last_row_id", "changed_db",
        "size_after", "rows_read", "rows_written",
    }  # fmt: skip


async def test_run_meta_of_writes(colours):
    returning = await colours.prepare(
        "INSERT INTO colours (name, rgb) VALUES ('yellow', 1) RETURNING *"
    ).run()
    assert returning.results == [{"id": 4, "name": "yellow", "rgb": 1}]
    m = returning.meta
    assert (m.changes, m.last_row_id, m.changed_db, m.rows_read, m.rows_written) == (
        1, 4, True, 2, 1,
    )  # fmt: skip
    two = await colours.prepare(
        "INSERT INTO colours (name, rgb) VALUES ('a', 1); "
        "INSERT INTO colours (name, rgb) VALUES ('b', 2)"
    ).run()
    assert two.results == []
    assert (two.meta.changes, two.meta.rows_read, two.meta.rows_written) == (2, 1, 1)
    plain = await colours.prepare("INSERT INTO colours (name, rgb) VALUES ('c', 3)").run()
    assert plain.results == [] and plain.meta.last_row_id == 7
    assert (plain.meta.rows_read, plain.meta.rows_written) == (1, 1)


async def test_last_row_id_is_connection_wide_and_kept_by_other_statements(colours):
    await colours.prepare("INSERT INTO colours (name, rgb) VALUES ('a', 1)").run()
    update = await colours.prepare("UPDATE colours SET rgb = 0 WHERE id = 1").run()
    assert update.meta.last_row_id == 4 and update.meta.changes == 1
    assert update.meta.changed_db is True


async def test_size_after_is_the_database_size_in_pages(colours, store):
    page_size = await store.call(lambda c: c.execute("PRAGMA page_size").fetchone()[0])
    before = (await colours.prepare("SELECT 1").run()).meta.size_after
    assert before > 0 and before % page_size == 0
    after = (
        await colours.prepare("INSERT INTO kitchen_sink (text) VALUES (?)").bind("x" * 50_000).run()
    ).meta
    assert after.size_after >= before + 40_000 and after.changed_db is True
    assert (await colours.prepare("SELECT 1").run()).meta.size_after == after.size_after


async def test_all(colours):
    result = await colours.prepare("SELECT id, name FROM colours ORDER BY id DESC").all()
    assert result.results == [{"id": 3, "name": "blue"}, {"id": 2, "name": "green"},
                              {"id": 1, "name": "red"}]  # fmt: skip
    assert result.results[0].name == "blue" and result["meta"]["rows_read"] == 3
    insert = await colours.prepare("INSERT INTO colours (name, rgb) VALUES ('y', 1)").all()
    assert insert.results == [] and (insert.meta.last_row_id, insert.meta.changes) == (4, 1)
    returning = await colours.prepare(
        "INSERT INTO colours (name, rgb) VALUES ('z', 2) RETURNING id"
    ).all()
    assert returning.results == [{"id": 5}]


async def test_raw(colours):
    stmt = colours.prepare("SELECT id, name FROM colours ORDER BY id")
    assert await stmt.raw() == [[1, "red"], [2, "green"], [3, "blue"]]
    expected = [["id", "name"], [1, "red"], [2, "green"], [3, "blue"]]
    assert await stmt.raw(columnNames=True) == expected
    assert await stmt.raw({"columnNames": True}) == expected
    assert await stmt.raw({"columnNames": False}) == expected[1:]
    insert = colours.prepare("INSERT INTO colours (name, rgb) VALUES ('a', 1)")
    assert await insert.raw() == []
    assert await insert.raw(columnNames=True) == [[]]


async def test_duplicate_column_names(colours):
    await colours.exec(
        "CREATE TABLE abc (a INT, b INT, c INT); CREATE TABLE cde (c INT, d INT, e INT);\n"
        "INSERT INTO abc VALUES (1, 2, 3), (4, 5, 6); INSERT INTO cde VALUES (7, 8, 9), (1, 2, 3);"
    )
    raw = await colours.prepare("SELECT * FROM abc, cde").raw(columnNames=True)
    assert raw[0] == ["a", "b", "c", "c", "d", "e"] and len(raw) == 5
    join = (
        "SELECT colours.name, palettes.name FROM palettes "
        "JOIN colours ON palettes.colour_id = colours.id"
    )
    assert await colours.prepare(join).raw() == [["blue", "Night"]]
    assert await colours.prepare(join).first() == {"name": "Night"}  # the later column wins


# -- errors ---------------------------------------------------------------------------------


async def test_sqlite_errors_carry_d1s_prefix_and_sqlites_code(colours):
    assert await error_of(colours.prepare("PUT x").run()) == SYNTAX
    duplicate = colours.prepare("INSERT INTO colours (id, name, rgb) VALUES (1, 'x', 0)")
    assert await error_of(duplicate.run()) == (
        "D1_ERROR: UNIQUE constraint failed: colours.id: SQLITE_CONSTRAINT "
        "(extended: SQLITE_CONSTRAINT_PRIMARYKEY)"
    )
    missing = colours.prepare("INSERT INTO colours (id, rgb) VALUES (9, 0)")
    assert await error_of(missing.all()) == (
        "D1_ERROR: NOT NULL constraint failed: colours.name: SQLITE_CONSTRAINT "
        "(extended: SQLITE_CONSTRAINT_NOTNULL)"
    )
    assert await error_of(colours.prepare("SELECT * FROM nope").first()) == (
        "D1_ERROR: no such table: nope: SQLITE_ERROR"
    )


async def test_foreign_keys_are_enforced(colours):
    orphan = colours.prepare("INSERT INTO palettes (name, colour_id) VALUES ('x', 99)")
    assert await error_of(orphan.run()) == (
        "D1_ERROR: FOREIGN KEY constraint failed: SQLITE_CONSTRAINT "
        "(extended: SQLITE_CONSTRAINT_FOREIGNKEY)"
    )


async def test_errors_are_catchable_and_carry_the_bare_message_as_cause(colours):
    with pytest.raises(JsException) as info:
        await colours.prepare("PUT x").raw()
    cause = info.value.__cause__
    assert type(cause) is JsException
    assert cause.message == 'near "PUT": syntax error: SQLITE_ERROR'
    assert isinstance(cause.__cause__, sqlite3.OperationalError)


async def test_wrong_number_of_bindings(colours):
    wrong = "D1_ERROR: Wrong number of parameter bindings for SQL query."
    stmt = colours.prepare("SELECT * FROM colours WHERE id = ?")
    assert await error_of(stmt.bind(1, 2).first()) == wrong
    assert await error_of(stmt.first()) == wrong
    named = colours.prepare("SELECT :a, :b")
    assert await error_of(named.bind(1).first()) == wrong
    assert await error_of(named.bind(1, 2, 3).first()) == wrong


@pytest.mark.parametrize("sql", ["", "   ", "  -- only a comment", "\n\t-- one\n  -- two\n"])
async def test_no_statements(db, sql):
    assert await error_of(db.prepare(sql).all()) == "D1_ERROR: No SQL statements detected."


async def test_an_unindented_comment_is_an_empty_query(db):
    # Miniflare only strips comments after whitespace; SQLite then runs nothing.
    assert (await db.prepare("-- just this").all()).results == []
    assert await db.prepare("-- just this").first() is None
    assert await db.prepare(";").raw(columnNames=True) == [[]]


async def test_only_the_last_statement_may_have_parameters(colours):
    message = await error_of(
        colours.prepare("SELECT * FROM colours WHERE id = ?; SELECT 1").bind(1).all()
    )
    assert message == (
        "D1_ERROR: When executing multiple SQL statements in a single call, only the last "
        "statement can have parameters."
    )
    last = colours.prepare("SELECT 1; SELECT name FROM colours WHERE id = ?").bind(2)
    assert await last.first("name") == "green"


@pytest.mark.parametrize(
    "sql",
    ["BEGIN", "BEGIN TRANSACTION", "COMMIT", "SAVEPOINT a", "RELEASE a", "ROLLBACK",
     "SELECT 1; BEGIN IMMEDIATE", "END TRANSACTION"],
)  # fmt: skip
async def test_transactions_are_refused(db, sql):
    assert await error_of(db.prepare(sql).run()) == f"D1_ERROR: {d1.NO_TRANSACTIONS}"


async def test_refused_sql_as_on_workerd(colours):
    denied = "D1_ERROR: not authorized: SQLITE_AUTH"
    for sql in ["PRAGMA journal_mode", "PRAGMA synchronous = OFF", "PRAGMA page_size = 1024",
                "ATTACH DATABASE ':memory:' AS other", "CREATE TABLE _cf_mine (x)",
                "CREATE TABLE _CF_MINE (x)"]:  # fmt: skip
        assert await error_of(colours.prepare(sql).run()) == denied, sql
    info = await colours.prepare("PRAGMA table_info(colours)").all()
    assert [c.name for c in info.results] == ["id", "name", "rgb"]
    assert await colours.prepare("PRAGMA page_size").first("page_size") > 0
    assert await colours.prepare("PRAGMA foreign_keys").first("foreign_keys") == 1


async def test_sqlite_limits_as_on_workerd(db):
    columns = ", ".join(f"{i} AS c{i}" for i in range(101))
    assert "too many columns in result set" in await error_of(db.prepare(f"SELECT {columns}").all())
    compound = " UNION ALL ".join(["SELECT 1"] * 6)
    assert "too many terms in compound SELECT" in await error_of(db.prepare(compound).all())
    like = db.prepare("SELECT 'a' LIKE ?").bind("x" * 51)
    assert "LIKE or GLOB pattern too complex" in await error_of(like.first())


async def test_miniflares_request_limits(db, monkeypatch):
    params = db.prepare("SELECT " + ", ".join(["?"] * 101))
    assert await error_of(params.bind(*range(101)).all()) == (
        "D1_ERROR: Query has 101 bound parameters, exceeding the limit of 100"
    )
    monkeypatch.setattr(d1, "D1_MAX_STATEMENT_BYTES", 20)
    assert await error_of(db.prepare("SELECT 'abcdefghijklmnop'").all()) == (
        "D1_ERROR: SQL statement exceeds maximum size of 20 bytes (25 bytes)"
    )
    monkeypatch.setattr(d1, "D1_MAX_QUERIES_PER_BATCH", 2)
    assert await error_of(db.batch([db.prepare("SELECT 1")] * 3)) == (
        "D1_ERROR: Your query batch has 3 queries, exceeding the limit of 2 queries per batch"
    )


# -- batch ----------------------------------------------------------------------------------


async def test_batch_returns_one_result_per_statement(colours):
    results = await colours.batch(
        [
            colours.prepare("INSERT INTO colours (name, rgb) VALUES (?, ?)").bind("yellow", 1),
            colours.prepare("SELECT name FROM colours WHERE id = ?").bind(4),
        ]
    )
    assert [r.success for r in results] == [True, True]
    assert results[0].results == [] and results[0].meta.changes == 1
    assert results[1].results == [{"name": "yellow"}]


async def test_a_failing_batch_rolls_everything_back_and_names_the_statement(colours):
    message = await error_of(
        colours.batch(
            [
                colours.prepare("INSERT INTO colours (name, rgb) VALUES ('a', 1)"),
                colours.prepare("PUT x"),
                colours.prepare("INSERT INTO colours (name, rgb) VALUES ('b', 2)"),
            ]
        )
    )
    assert message == f"{SYNTAX} [batch statement 2 of 3: PUT x]"
    assert await colours.prepare("SELECT count(*) AS n FROM colours").first("n") == 3
    long = colours.prepare(
        "INSERT INTO colours (id, name, rgb)\n   VALUES (1, '" + "x" * 90 + "', 0)"
    )
    message = await error_of(colours.batch([colours.prepare("SELECT 1"), long]))
    assert message.startswith("D1_ERROR: UNIQUE constraint failed: colours.id: ")
    assert message.endswith(
        "[batch statement 2 of 2: INSERT INTO colours (id, name, rgb) VALUES (1, "
        "'" + "x" * 29 + "...]"
    )


async def test_batch_checks_every_statement_before_running_any(colours):
    message = await error_of(
        colours.batch(
            [
                colours.prepare("INSERT INTO colours (name, rgb) VALUES ('a', 1)"),
                colours.prepare("SELECT ?; SELECT 2"),
            ]
        )
    )
    assert (
        message
        == f"D1_ERROR: {d1.ONLY_LAST_HAS_PARAMS} [batch statement 2 of 2: SELECT ?; SELECT 2]"
    )
    assert await colours.prepare("SELECT count(*) AS n FROM colours").first("n") == 3


async def test_batch_drops_comment_only_statements_and_refuses_an_empty_list(colours):
    results = await colours.batch(
        [colours.prepare("  -- nothing"), colours.prepare("SELECT 1 AS x")]
    )
    assert [r.results for r in results] == [[{"x": 1}]]
    assert await error_of(colours.batch([])) == "D1_ERROR: No SQL statements detected."
    with pytest.raises(JsTypeError):
        await colours.batch(["SELECT 1"])


async def test_a_batch_of_reads_sees_one_snapshot(colours):
    results = await colours.batch(
        [colours.prepare("SELECT count(*) AS n FROM colours"), colours.prepare("SELECT 2 AS two")]
    )
    assert [r.results for r in results] == [[{"n": 3}], [{"two": 2}]]


# -- exec -----------------------------------------------------------------------------------


async def test_exec_counts_lines(colours):
    one = await colours.exec("INSERT INTO colours (name, rgb) VALUES ('a', 1)")
    assert one.count == 1 and one.duration >= 0
    two = await colours.exec("SELECT 1;\n\nSELECT 2; SELECT 3;\n")
    assert two == {"count": 2, "duration": two.duration}


async def test_exec_runs_everything_in_one_transaction_and_names_the_failing_line(colours):
    message = await error_of(
        colours.exec("INSERT INTO colours (name, rgb) VALUES ('a', 1);\nSELECT * FROM nope;")
    )
    assert (
        message
        == "D1_EXEC_ERROR: Error in line 2: SELECT * FROM nope;: no such table: nope: SQLITE_ERROR"
    )
    assert await colours.prepare("SELECT count(*) AS n FROM colours").first("n") == 3


async def test_exec_runs_each_line_on_its_own(db):
    message = await error_of(db.exec("CREATE TABLE t (\n  x INTEGER\n);"))
    assert message.startswith("D1_EXEC_ERROR: Error in line 1: CREATE TABLE t (: ")


async def test_exec_of_nothing(db):
    assert await error_of(db.exec("")) == (
        "D1_EXEC_ERROR: Error in line 1: : No SQL statements detected."
    )
    assert await error_of(db.exec("SELECT ?; SELECT 1")) == (
        f"D1_EXEC_ERROR: Error in line 1: SELECT ?; SELECT 1: {d1.ONLY_LAST_HAS_PARAMS}"
    )


# -- dump and sessions ----------------------------------------------------------------------


async def test_dump_is_a_consistent_copy_of_the_file(colours, tmp_path):
    data = await colours.dump()
    assert isinstance(data, bytes) and data.startswith(b"SQLite format 3\x00")
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(data)
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT name FROM colours ORDER BY id").fetchall() == [
            ("red",), ("green",), ("blue",)
        ]  # fmt: skip
    conn.close()


async def test_sessions_track_bookmarks(colours):
    session = colours.withSession()
    assert session.getBookmark() is None
    assert await session.prepare("SELECT name FROM colours WHERE id = 1").first("name") == "red"
    first = session.getBookmark()
    assert isinstance(first, str) and first
    await session.batch([session.prepare("INSERT INTO colours (name, rgb) VALUES ('a', 1)")])
    second = session.getBookmark()
    assert second > first
    # A session opened at a bookmark reads every write (one primary) and moves forward.
    later = colours.withSession(first)
    assert later.getBookmark() == first
    assert await later.prepare("SELECT count(*) AS n FROM colours").first("n") == 4
    assert later.getBookmark() == second
    assert colours.withSession("first-primary").getBookmark() is None
    assert colours.withSession("  ").getBookmark() is None
    ahead = colours.withSession("ffffffffffff-ffffffff")
    await ahead.prepare("SELECT 1").run()
    assert ahead.getBookmark() == "ffffffffffff-ffffffff"


async def test_a_session_refuses_a_non_string(db):
    with pytest.raises(D1Error) as info:
        db.withSession(42)
    assert str(info.value) == "D1_SESSION_ERROR: invalid bookmark or constraint"


# -- concurrency ----------------------------------------------------------------------------


async def test_fifty_concurrent_writers_lose_nothing(colours):
    async def writer(n: int) -> None:
        for i in range(10):
            if i % 2:
                await (
                    colours.prepare("INSERT INTO kitchen_sink (int, text) VALUES (?, ?)")
                    .bind(n, f"w{n}-{i}")
                    .run()
                )
            else:
                await colours.batch(
                    [
                        colours.prepare("INSERT INTO kitchen_sink (int) VALUES (?)").bind(n),
                        colours.prepare("UPDATE colours SET rgb = rgb + 1 WHERE id = 1"),
                    ]
                )

    await asyncio.gather(*(writer(n) for n in range(50)))
    assert await colours.prepare("SELECT count(*) AS n FROM kitchen_sink").first("n") == 500
    assert await colours.prepare("SELECT rgb FROM colours WHERE id = 1").first("rgb") == (
        0xFF0000 + 250
    )
