"""The d1_databases config section, state files, sharing between workers, dev migrations."""

import logging

import pytest

from bindings import ConfigError, Runtime
from bindings.config import from_document
from bindings.d1 import D1Database, database_path

APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def count(request):
    db = request.scope["env"].DB
    await db.prepare("INSERT INTO hits (worker) VALUES (?)").bind(request.url.path).run()
    return JSONResponse({"n": await db.prepare("SELECT count(*) AS n FROM hits").first("n")})

app = Starlette(routes=[Route("/{path:path}", count)])
"""


def worker(name, *d1, **extra):
    return {"name": name, "main": "d1_app.py", "d1_databases": list(d1), **extra}


@pytest.fixture
def app_file(tmp_path):
    (tmp_path / "d1_app.py").write_text(APP)
    return tmp_path


def config_error(doc, tmp_path) -> str:
    with pytest.raises(ConfigError) as info:
        from_document(doc, tmp_path / "wrangler_compat.toml")
    return str(info.value)


async def test_two_workers_binding_one_id_share_the_database(hearth, app_file):
    shared = {"binding": "DB", "database_name": "shop", "database_id": "shop-id"}
    h = await hearth(
        {"workers": [worker("a", shared, routes=["/a*"]), worker("b", shared, routes=["/b*"])]}
    )
    a, b = h.env("a").DB, h.env("b").DB
    assert isinstance(a, D1Database) and a._store is b._store
    await a.exec("CREATE TABLE hits (worker TEXT)")
    assert (await h.SELF.get("/a")).json() == {"n": 1}
    assert (await h.SELF.get("/b")).json() == {"n": 2}
    assert database_path(h.state_dir, "shop-id").is_file()


async def test_ids_default_and_map_to_safe_file_names(hearth, app_file):
    h = await hearth(
        {
            "workers": [
                worker(
                    "w",
                    {"binding": "ODD", "database_name": "odd", "database_id": "my/ Database"},
                    {"binding": "NAMED", "database_name": "only-a-name"},
                    {"binding": "PREVIEW", "database_id": "prod", "preview_database_id": "dev"},
                )
            ]
        }
    )
    files = sorted(p.name for p in (h.state_dir / "d1").glob("*.sqlite"))
    assert files == ["dev.sqlite", "my%2F%20Database.sqlite", "only-a-name.sqlite"]
    decls = {d.name: d for _, d in h.worker().config.bindings}
    assert (decls["NAMED"].database_id, decls["NAMED"].database_name) == ("only-a-name",) * 2
    assert (decls["PREVIEW"].database_id, decls["PREVIEW"].database_name) == ("dev", "prod")


async def test_data_survives_a_restart(hearth, app_file, tmp_path):
    doc = {"workers": [worker("w", {"binding": "DB", "database_name": "x", "database_id": "x"})]}
    first = await hearth(doc)
    await first.env().DB.exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('kept');")
    await first.aclose()
    second = await hearth(doc)
    assert await second.env().DB.prepare("SELECT v FROM t").first("v") == "kept"


async def test_full_synchronous_is_a_setting(hearth, app_file):
    h = await hearth(
        {
            "hearth": {"d1": {"synchronous": "full", "busy_timeout_ms": 1234}},
            "workers": [worker("w", {"binding": "DB", "database_id": "x"})],
        }
    )
    store = h.env().DB._store
    pragmas = await store.call(
        lambda c: (c.execute("PRAGMA synchronous").fetchone()[0],
                   c.execute("PRAGMA busy_timeout").fetchone()[0],
                   c.execute("PRAGMA journal_mode").fetchone()[0],
                   c.execute("PRAGMA foreign_keys").fetchone()[0])
    )  # fmt: skip
    assert pragmas == (2, 1234, "wal", 1)  # FULL, the timeout, WAL, foreign keys on


@pytest.mark.parametrize(
    ("entry", "hearth_table", "message"),
    [
        ({"binding": "DB"}, {}, "workers[0].d1_databases[0].database_id: is required"),
        ({"database_id": "x"}, {}, "workers[0].d1_databases[0].binding: is required"),
        ({"binding": "DB", "database_id": "x", "colour": 1}, {},
         "workers[0].d1_databases[0].colour: unknown key of a d1_databases entry"),
        ({"binding": "DB", "database_id": "x", "migrations_table": "x; DROP"}, {},
         "workers[0].d1_databases[0].migrations_table: must be a plain SQL name"),
        ({"binding": "DB", "database_id": ""}, {},
         "workers[0].d1_databases[0].database_id: must be a non-empty string"),
        ({"binding": "DB", "database_id": "x"}, {"d1": {"synchronous": "OFF"}},
         "hearth.d1.synchronous: must be one of NORMAL, FULL, EXTRA"),
        ({"binding": "DB", "database_id": "x"}, {"d1": {"busy_timeout_ms": "1s"}},
         "hearth.d1.busy_timeout_ms: must be a whole number >= 0"),
        ({"binding": "DB", "database_id": "x"}, {"d1": {"wal": False}},
         "hearth.d1.wal: unknown key"),
    ],
)  # fmt: skip
def test_config_errors_name_the_key(tmp_path, entry, hearth_table, message):
    doc = {"hearth": hearth_table, "workers": [worker("w", entry)]}
    assert message in config_error(doc, tmp_path)


def test_one_database_needs_one_set_of_migration_settings(tmp_path, app_file):
    doc = {
        "workers": [
            worker("a", {"binding": "DB", "database_id": "x"}),
            worker("b", {"binding": "DB", "database_id": "x", "migrations_dir": "elsewhere"}),
        ]
    }
    runtime = Runtime(from_document(doc, tmp_path / "wrangler_compat.toml"), mode="test")
    with pytest.raises(ConfigError) as info:
        runtime.load()
    assert "workers[1].d1_databases[0]: database 'x' is also bound at workers[0]" in str(info.value)


def _dev_runtime(tmp_path, migrations_dir="migrations"):
    entry = {"binding": "DB", "database_name": "shop", "database_id": "shop"}
    if migrations_dir != "migrations":
        entry["migrations_dir"] = migrations_dir
    doc = {"workers": [worker("w", entry)]}
    config = from_document(doc, tmp_path / "wrangler_compat.toml")
    return Runtime(config, state_dir=tmp_path / "state", mode="dev")


async def test_dev_applies_pending_migrations_when_it_starts(tmp_path, app_file, caplog):
    folder = tmp_path / "db" / "migrations"
    folder.mkdir(parents=True)
    (folder / "0000_hits.sql").write_text("CREATE TABLE hits (worker TEXT);\n")
    (folder / "0001_seed.sql").write_text("INSERT INTO hits VALUES ('seed');\n")
    caplog.set_level(logging.INFO, "hearth.d1")
    async with _dev_runtime(tmp_path, "db/migrations") as runtime:
        db = runtime.worker("w").env.DB
        assert await db.prepare("SELECT worker FROM hits").raw() == [["seed"]]
    assert [r.getMessage() for r in caplog.records] == [
        "D1 shop: applied migration 0000_hits.sql",
        "D1 shop: applied migration 0001_seed.sql",
    ]
    caplog.clear()
    async with _dev_runtime(tmp_path, "db/migrations"):
        pass
    assert caplog.records == []  # nothing pending the second time


async def test_dev_refuses_to_start_on_a_failing_migration(tmp_path, app_file):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0000_bad.sql").write_text("CREATE TABLE t (x);\nPUT x;\n")
    runtime = _dev_runtime(tmp_path)
    with pytest.raises(ConfigError) as info:
        async with runtime:
            pass
    assert 'Migration 0000_bad.sql failed: D1_ERROR: near "PUT": syntax error' in str(info.value)


async def test_a_command_opening_plugins_does_not_migrate(tmp_path, app_file):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0000_t.sql").write_text("CREATE TABLE t (x);")
    runtime = _dev_runtime(tmp_path)  # mode "dev", as a command that forgets to say otherwise
    await runtime.open_plugins()
    try:
        plugin = next(iter(runtime.plugins.values()))
        db = plugin.bind(runtime.config.workers[0].bindings[0][1], None)
        assert await db.prepare("SELECT name FROM sqlite_schema").raw() == []
    finally:
        await runtime.stop()


async def test_tests_and_serve_do_not_migrate(hearth, app_file, tmp_path):
    (tmp_path / "migrations").mkdir()
    (tmp_path / "migrations" / "0000_t.sql").write_text("CREATE TABLE t (x);")
    h = await hearth({"workers": [worker("w", {"binding": "DB", "database_id": "x"})]})
    tables = await h.env().DB.prepare("SELECT name FROM sqlite_schema").raw()
    assert tables == []


DO_APP = """
from workers import DurableObject, WorkerEntrypoint


class Ledger(DurableObject):
    async def record(self, amount):
        await self.ctx.storage.put("last", amount)  # pending until the output gate opens
        db = self.env.DB
        await db.prepare("INSERT INTO ledger (amount) VALUES (?)").bind(amount).run()
        await db.batch([db.prepare("INSERT INTO ledger (amount) VALUES (?)").bind(-amount)])
        total = await db.prepare("SELECT count(*) AS n FROM ledger").first("n")
        return {"rows": total, "last": await self.ctx.storage.get("last")}


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return None
"""


async def test_a_durable_object_can_use_d1_through_its_output_gate(hearth, tmp_path):
    (tmp_path / "d1_do_app.py").write_text(DO_APP)
    h = await hearth(
        {
            "name": "w",
            "main": "d1_do_app.py",
            "d1_databases": [{"binding": "DB", "database_id": "ledger"}],
            "durable_objects": {"bindings": [{"name": "LEDGER", "class_name": "Ledger"}]},
            "migrations": [{"tag": "v1", "new_sqlite_classes": ["Ledger"]}],
        }
    )
    await h.env().DB.exec("CREATE TABLE ledger (amount INTEGER)")
    stub = h.env().LEDGER.getByName("books")
    assert await stub.record(5) == {"rows": 2, "last": 5}
    assert await stub.record(7) == {"rows": 4, "last": 7}
