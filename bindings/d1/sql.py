"""SQL text, read the way D1 needs it: split into statements, parameters found, writes guessed.

``plan(sql)`` is computed once per distinct SQL string and cached, so the hot path
(``prepare`` → ``bind`` → ``first``) never tokenizes. The tokenizer knows SQLite's quoting
(``'...'``, ``"..."``, `` `...` ``, ``[...]``) and comments, and a ``;`` ends a statement only
where ``sqlite3.complete_statement`` agrees, which keeps ``CREATE TRIGGER ... BEGIN ...; END``
whole.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<string>'(?:[^']|'')*'?)
    | (?P<quoted>"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?)
    | (?P<param>\?\d*|[:@$]\w+)
    | (?P<semi>;)
    | (?P<word>[^\W\d][\w$]*)
    | (?P<other>\d[\w.]*|.)
    """,
    re.S | re.X,
)

# First keywords of the statements D1 refuses: transactions belong to batch() (workerd's rule).
TRANSACTION_KEYWORDS = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"})
# A statement starting with one of these only reads (WITH reads unless it holds a DML keyword).
_READ_KEYWORDS = frozenset({"SELECT", "VALUES", "EXPLAIN"})
_WRITE_WORDS = frozenset({"INSERT", "UPDATE", "DELETE", "REPLACE"})

# Miniflare drops query entries that are blank once indented `--` comments are removed.
_INDENTED_COMMENT = re.compile(r"^\s+--.*", re.M)

PLAN_CACHE_SIZE = 2048
PLAN_CACHE_MAX_SQL = 8192  # longer SQL (imports, exec of a whole file) is planned, not cached


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement of a query, with what binding and transactions need to know about it."""

    sql: str
    keyword: str  # first word, upper-cased
    params: bool  # has at least one parameter
    names: tuple[str, ...] | None  # names of its parameters in SQLite's index order, if all named
    writes: bool


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything D1 needs to know about one query string before running it."""

    sql: str
    statements: tuple[Statement, ...]
    head: tuple[Statement, ...]  # every statement but the last
    last: Statement | None
    blank: bool  # Miniflare's "comment only" test: such entries are dropped from a request
    nbytes: int  # UTF-8 length, for D1's statement size limit
    writes: bool  # some statement may write (BEGIN IMMEDIATE rather than a deferred BEGIN)
    early_params: bool  # a statement before the last one has parameters
    transaction: bool  # some statement is BEGIN/COMMIT/SAVEPOINT/...


_plans: dict[str, Plan] = {}


def plan(sql: str) -> Plan:
    """The (cached) plan of ``sql``."""
    found = _plans.get(sql)
    if found is not None:
        return found
    made = _make_plan(sql)
    if len(sql) <= PLAN_CACHE_MAX_SQL:
        if len(_plans) >= PLAN_CACHE_SIZE:
            _plans.clear()  # crude, but O(1) per miss and bounded; the working set refills
        _plans[sql] = made
    return made


def is_blank(sql: str) -> bool:
    """Miniflare's test for an entry with nothing to run (only indented ``--`` comments)."""
    return not _INDENTED_COMMENT.sub("", sql).strip()


def split(sql: str) -> list[str]:
    """The statements of ``sql`` (no trailing ``;``; empty and comment-only ones dropped)."""
    return [s.sql for s in _make_plan(sql).statements]


def _make_plan(sql: str) -> Plan:
    statements = tuple(_statements(sql))
    return Plan(
        sql=sql,
        statements=statements,
        head=statements[:-1],
        last=statements[-1] if statements else None,
        blank=is_blank(sql),
        nbytes=len(sql.encode("utf-8", "surrogatepass")),
        writes=any(s.writes for s in statements),
        early_params=any(s.params for s in statements[:-1]),
        transaction=any(s.keyword in TRANSACTION_KEYWORDS for s in statements),
    )


def _statements(sql: str) -> list[Statement]:
    out: list[Statement] = []
    start = 0
    words: list[str] = []
    params: list[str] = []
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup
        if kind == "space" or kind == "comment":
            continue
        if kind == "semi":
            if sqlite3.complete_statement(sql[start : m.end()]):
                if words or params:
                    out.append(_statement(sql[start : m.start()], words, params))
                start, words, params = m.end(), [], []
            continue
        if kind == "word":
            words.append(m.group().upper())
        elif kind == "param":
            params.append(m.group())
        else:
            words.append("")  # a literal or punctuation: content, but no keyword
    if words or params:
        out.append(_statement(sql[start:], words, params))
    return out


def _statement(text: str, words: list[str], params: list[str]) -> Statement:
    keyword = next((w for w in words if w), "")
    if keyword in _READ_KEYWORDS:
        writes = False
    elif keyword == "WITH":
        writes = not _WRITE_WORDS.isdisjoint(words)
    else:
        writes = True  # DDL, DML, PRAGMA ...: assume it may write
    names: tuple[str, ...] | None = None
    if params and not any(p[0] == "?" for p in params):
        # SQLite numbers named parameters by first appearance; sqlite3 binds a dict by name.
        names = tuple(dict.fromkeys(p[1:] for p in params))
    return Statement(text.strip(), keyword, bool(params), names, writes)
