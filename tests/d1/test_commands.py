"""`python -m bindings d1 ...`: migrations create/list/apply, execute, export."""

import json

import pytest

from bindings.cli import main

CONFIG = """\
name = "shop"
main = "src/entry.py"

[[d1_databases]]
binding = "DB"
database_name = "shop-db"
database_id = "1234-abcd"
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    (tmp_path / "wrangler.toml").write_text(CONFIG)
    return tmp_path


def d1(project, capsys, *args, config="wrangler.toml"):
    code = main(["d1", *args, "--config", str(project / config)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_migrations_create_list_apply(project, capsys):
    code, out, _ = d1(project, capsys, "migrations", "create", "DB", "create users")
    assert code == 0 and "0000_create_users.sql" in out
    created = project / "migrations" / "0000_create_users.sql"
    created.write_text(created.read_text() + "CREATE TABLE users (id INTEGER PRIMARY KEY);\n")
    code, out, _ = d1(project, capsys, "migrations", "list", "shop-db")
    assert code == 0 and out == "Migrations to be applied:\n  0000_create_users.sql\n"
    code, out, _ = d1(project, capsys, "migrations", "apply", "DB", "--local")
    assert code == 0 and out.endswith("applied 0000_create_users.sql\n")
    code, out, _ = d1(project, capsys, "migrations", "list", "DB")
    assert out == "No migrations to apply.\n"
    code, out, _ = d1(
        project, capsys, "execute", "DB", "--command", "SELECT name FROM d1_migrations", "--json"
    )
    assert json.loads(out)[0]["results"] == [{"name": "0000_create_users.sql"}]


def test_a_failing_migration_exits_1_and_says_which(project, capsys):
    folder = project / "migrations"
    folder.mkdir()
    (folder / "0000_ok.sql").write_text("CREATE TABLE a (x);")
    (folder / "0001_bad.sql").write_text("PUT x;")
    code, out, err = d1(project, capsys, "migrations", "apply", "DB")
    assert code == 1
    assert "applied 0000_ok.sql" in out
    assert err == (
        'error: Migration 0001_bad.sql failed: D1_ERROR: near "PUT": syntax error: '
        "SQLITE_ERROR [batch statement 2 of 2: PUT x]\n"
    )


def test_apply_without_a_folder_is_a_config_error(project, capsys):
    code, _, err = d1(project, capsys, "migrations", "apply", "DB")
    assert code == 2 and "no migrations folder" in err


def test_execute_command_and_file(project, capsys):
    code, out, _ = d1(
        project, capsys, "execute", "DB", "--command",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB); "
        "INSERT INTO t (v, b) VALUES ('a;b', x'0102'), (NULL, NULL); SELECT * FROM t",
    )  # fmt: skip
    assert code == 0
    table, summary = out.rsplit("\n", 2)[0], out.rsplit("\n", 2)[1]
    assert table == "id  v     b\n--  ----  ------\n1   a;b   [1, 2]\n2   null  null"
    assert summary.startswith("Executed 3 commands in ") and summary.endswith("ms")
    sql = project / "more.sql"
    sql.write_text("INSERT INTO t (v) VALUES ('from a file');\nSELECT count(*) AS n FROM t;\n")
    code, out, _ = d1(project, capsys, "execute", "shop-db", "--file", str(sql), "--json")
    results = json.loads(out)
    assert code == 0 and [r["success"] for r in results] == [True, True]
    assert results[1]["results"] == [{"n": 3}] and "duration" in results[1]["meta"]
    code, out, _ = d1(project, capsys, "execute", "DB", "--command", "SELECT b FROM t", "--json")
    assert json.loads(out)[0]["results"] == [{"b": [1, 2]}, {"b": None}, {"b": None}]


def test_execute_is_one_transaction(project, capsys):
    d1(project, capsys, "execute", "DB", "--command", "CREATE TABLE t (x)")
    code, _, err = d1(
        project,
        capsys,
        "execute",
        "DB",
        "--command",
        "INSERT INTO t VALUES (1); SELECT * FROM nope",
    )
    assert code == 1 and "no such table: nope" in err
    code, out, _ = d1(
        project, capsys, "execute", "DB", "--command", "SELECT count(*) AS n FROM t", "--json"
    )
    assert json.loads(out)[0]["results"] == [{"n": 0}]


def test_execute_refuses_a_database_file(project, capsys, tmp_path):
    binary = tmp_path / "db.sqlite"
    binary.write_bytes(b"SQLite format 3\x00" + bytes(100))
    code, _, err = d1(project, capsys, "execute", "DB", "--file", str(binary))
    assert code == 1 and "is a SQLite database file" in err


def test_an_unknown_database_is_a_config_error(project, capsys):
    code, _, err = d1(project, capsys, "execute", "NOPE", "--command", "SELECT 1")
    assert code == 2 and "no D1 database with the name or binding 'NOPE'" in err


def test_export_round_trips_schema_and_data(project, capsys, tmp_path):
    # Row 1 of child points at row 2: loading the export one row at a time needs the
    # deferred foreign keys the export asks for.
    setup = (
        'CREATE TABLE "odd ""name""" '
        "(id INTEGER PRIMARY KEY AUTOINCREMENT, t TEXT, r REAL, b BLOB);"
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES child(id));"
        "CREATE INDEX child_parent ON child (parent);"
        "CREATE VIEW v AS SELECT count(*) AS n FROM child;"
        "INSERT INTO \"odd \"\"name\"\"\" (t, r, b) VALUES ('it''s\nmulti\r\nline', 1.5, x'00ff'),"
        " (NULL, 1e300, NULL), (42, -0.25, x'');"
        "INSERT INTO child VALUES (1, 2), (2, NULL);"
    )
    assert d1(project, capsys, "execute", "DB", "--command", setup)[0] == 0
    dump = tmp_path / "dump.sql"
    code, out, _ = d1(project, capsys, "export", "DB", "--output", str(dump))
    assert code == 0 and "Exported shop-db" in out
    text = dump.read_text()
    lines = text.splitlines()
    assert lines[0] == "PRAGMA defer_foreign_keys=TRUE;"
    assert 'CREATE TABLE IF NOT EXISTS "odd ""name""" (' in text
    assert (
        'INSERT INTO "odd ""name""" VALUES(1,'
        "('it''s'||char(10)||'multi'||char(13)||char(10)||'line'),1.5,X'00ff');"
    ) in lines
    assert "DELETE FROM sqlite_sequence;" in lines
    assert lines[-2:] == ["CREATE INDEX child_parent ON child (parent);",
                          "CREATE VIEW v AS SELECT count(*) AS n FROM child;"]  # fmt: skip

    other = project / "other.toml"
    other.write_text(CONFIG.replace("1234-abcd", "copy"))
    code, _, err = d1(project, capsys, "execute", "DB", "--file", str(dump), config="other.toml")
    assert code == 0, err
    code, again, _ = d1(project, capsys, "export", "DB", config="other.toml")
    assert again == text
    code, out, _ = d1(project, capsys, "export", "DB", "--table", "child", "--no-schema")
    assert out == (
        'PRAGMA defer_foreign_keys=TRUE;\nINSERT INTO "child" VALUES(1,2);\n'
        'INSERT INTO "child" VALUES(2,NULL);\n'
    )
