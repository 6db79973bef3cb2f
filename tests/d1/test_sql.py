"""Reading SQL text: statements, parameters, writes, Miniflare's blank test, the plan cache."""

import pytest

from bindings.d1 import sql as sqlmod
from bindings.d1.sql import is_blank, plan, split


def test_split_respects_quotes_comments_and_triggers():
    text = """
        -- a comment; with a semicolon
        CREATE TABLE "a;b" (x TEXT DEFAULT ';', [y;z] INT, `w;` INT);
        /* block; comment */ INSERT INTO "a;b" (x) VALUES ('it''s; fine');;
        CREATE TRIGGER t AFTER INSERT ON "a;b" BEGIN
            UPDATE "a;b" SET x = 'u;'; DELETE FROM "a;b" WHERE 0;
        END;
        SELECT 1 -- trailing
    """
    statements = split(text)
    assert len(statements) == 4
    assert statements[0].startswith("-- a comment; with a semicolon\n")
    assert statements[0].endswith("`w;` INT)")
    assert statements[1].endswith("VALUES ('it''s; fine')")
    assert statements[2].startswith("CREATE TRIGGER") and statements[2].endswith("END")
    assert statements[3] == "SELECT 1 -- trailing"


def test_comment_only_and_empty_pieces_are_dropped():
    assert split(";; -- nothing\n /* here */ ;") == []
    assert split("SELECT 1; -- done") == ["SELECT 1"]


@pytest.mark.parametrize(
    ("text", "params", "names"),
    [
        ("SELECT ?", True, None),
        ("SELECT ?2, ?1", True, None),
        ("SELECT :a, @b, $c, :a", True, ("a", "b", "c")),
        ("SELECT ':a', \"?\", [?], `$x` -- ?", False, None),
        ("SELECT ?, :a", True, None),
        ("SELECT a$b FROM t", False, None),
    ],
)
def test_parameters(text, params, names):
    (statement,) = plan(text).statements
    assert (statement.params, statement.names) == (params, names)


def test_early_parameters_and_transactions_are_flagged():
    assert plan("SELECT ?; SELECT 1").early_params
    assert not plan("SELECT 1; SELECT ?").early_params
    assert plan("SELECT 1; begin transaction").transaction
    assert not plan("SELECT 'BEGIN'").transaction


@pytest.mark.parametrize(
    ("text", "writes"),
    [
        ("SELECT * FROM t", False),
        ("  values (1)", False),
        ("WITH x AS (SELECT 1) SELECT * FROM x", False),
        ("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", True),
        ("INSERT INTO t VALUES (1)", True),
        ("CREATE TABLE t (x)", True),
        ("PRAGMA foreign_keys = ON", True),
        ("SELECT 1; DELETE FROM t", True),
    ],
)
def test_writes_are_guessed_conservatively(text, writes):
    assert plan(text).writes is writes


def test_blank_is_miniflares_test():
    assert is_blank("") and is_blank("  \n\t") and is_blank("  -- x\n   -- y")
    assert not is_blank("-- unindented comment")  # Miniflare only strips indented ones
    assert not is_blank("SELECT 1")


def test_plans_are_cached_and_bounded(monkeypatch):
    monkeypatch.setattr(sqlmod, "_plans", {})
    monkeypatch.setattr(sqlmod, "PLAN_CACHE_SIZE", 3)
    assert plan("SELECT 1") is plan("SELECT 1")
    for i in range(5):
        plan(f"SELECT {i}")
    assert len(sqlmod._plans) <= 3
    huge = "SELECT '" + "x" * sqlmod.PLAN_CACHE_MAX_SQL + "'"
    assert plan(huge) is not plan(huge)
