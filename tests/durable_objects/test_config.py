"""durable_objects and migrations in both wrangler spellings, and check()'s errors."""

import textwrap

import pytest

from bindings import ConfigError, Runtime
from bindings.config import load
from bindings.durable_objects.config import DurableObjectDecl
from bindings.testing import runInDurableObject

SOURCE = """
from workers import DurableObject, Response, WorkerEntrypoint

class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return Response("ok")

class Room(DurableObject):
    pass

class Renamed(DurableObject):
    async def get(self):
        return await self.ctx.storage.get("k")

class NotAnObject:
    pass

class _Hidden(DurableObject):
    pass
"""


def write(tmp_path, toml, source=SOURCE):
    (tmp_path / "worker.py").write_text(textwrap.dedent(source))
    file = tmp_path / "wrangler.toml"
    file.write_text(textwrap.dedent(toml))
    return file


def check(file):
    runtime = Runtime(load(file), mode="check")
    runtime.load()
    return runtime


BASE = """
name = "app"
main = "worker.py"
"""
ROOMS = '[[durable_objects.bindings]]\nname = "ROOMS"\nclass_name = "Room"\n'


@pytest.mark.parametrize("bindings", [
    '[[durable_objects.bindings]]\nname = "ROOMS"\nclass_name = "Room"\n',
    '[durable_objects]\nbindings = [{ name = "ROOMS", class_name = "Room" }]\n',
])  # fmt: skip
@pytest.mark.parametrize("migrations", [
    '[[migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Room"]\n',
    '[[durable_objects.migrations]]\ntag = "v1"\nnew_sqlite_classes = ["Room"]\n',
])  # fmt: skip
async def test_both_wrangler_spellings(hearth, tmp_path, bindings, migrations):
    if bindings.startswith("[durable_objects]") and migrations.startswith("[[durable_objects."):
        migrations = migrations.replace("[[durable_objects.migrations]]", "[[migrations]]")
    file = write(tmp_path, BASE + bindings + migrations)
    h = await hearth(file, state_dir=tmp_path / "state")
    (decl,) = [d for _, d in h.worker().config.bindings]
    assert isinstance(decl, DurableObjectDecl) and decl.class_name == "Room"
    stub = h.env().ROOMS.getByName("x")
    assert await runInDurableObject(stub, lambda i, ctx: ctx.storage.sql.databaseSize) == 4096


@pytest.mark.parametrize(("toml", "key", "problem"), [
    ('[[durable_objects.bindings]]\nname = "R"\nclass_name = "Missing"\n',
     "durable_objects.bindings[0].class_name", "has no class 'Missing'"),
    ('[[durable_objects.bindings]]\nname = "R"\nclass_name = "NotAnObject"\n',
     "durable_objects.bindings[0].class_name", "is not a workers.DurableObject subclass"),
    ('[[durable_objects.bindings]]\nname = "R"\nclass_name = "_Hidden"\n',
     "durable_objects.bindings[0].class_name", "is not exported by"),
    ('[[durable_objects.bindings]]\nname = "R"\nclass_name = "Room"\nscript_name = "nobody"\n',
     "durable_objects.bindings[0].script_name", "no worker named 'nobody'"),
    ('[[durable_objects.bindings]]\nname = "R"\nclass_name = "Room"\n'
     '[[migrations]]\ntag = "v1"\nnew_classes = ["Room"]\n[[migrations]]\ntag = "v2"\n'
     'deleted_classes = ["Room"]\n',
     "durable_objects.bindings[0].class_name", "is deleted by the migrations"),
])  # fmt: skip
def test_check_names_file_key_and_problem(tmp_path, toml, key, problem):
    file = write(tmp_path, BASE + toml)
    with pytest.raises(ConfigError) as info:
        check(file)
    assert info.value.file == str(file)
    assert info.value.key == key
    assert problem in info.value.problem


@pytest.mark.parametrize(("toml", "key"), [
    ('[[durable_objects.bindings]]\nclass_name = "Room"\n', "durable_objects.bindings[0].name"),
    ('durable_objects = "x"\n', "durable_objects"),
    ('[durable_objects]\nbinding = []\n', "durable_objects.binding"),
    ('[[migrations]]\nnew_classes = "Room"\n', "migrations[0].new_classes"),
    ('[[migrations]]\nrenamed_classes = [{ from = "A" }]\n', "migrations[0].renamed_classes[0].to"),
    ("[hearth.durable_objects]\nidle_timeout = 0\n" + ROOMS,
     "hearth.durable_objects.idle_timeout"),
    ('[hearth.durable_objects]\nsynchronous = "OFF"\n' + ROOMS,
     "hearth.durable_objects.synchronous"),
])  # fmt: skip
def test_bad_sections_fail_at_load(tmp_path, toml, key):
    file = write(tmp_path, BASE + toml)
    with pytest.raises(ConfigError) as info:
        load(file)
    assert info.value.key == key


async def test_a_renamed_class_keeps_its_data_and_ids(hearth, tmp_path):
    before = write(tmp_path, BASE + textwrap.dedent("""
        [[durable_objects.bindings]]
        name = "R"
        class_name = "Room"
        [[migrations]]
        tag = "v1"
        new_sqlite_classes = ["Room"]
    """))  # fmt: skip
    h = await hearth(before, state_dir=tmp_path / "state")
    old_id = h.env().R.idFromName("x").toString()
    await runInDurableObject(h.env().R.getByName("x"), lambda i, ctx: ctx.storage.put("k", "kept"))
    await h.aclose()
    after = write(tmp_path, BASE + textwrap.dedent("""
        [[durable_objects.bindings]]
        name = "R"
        class_name = "Renamed"
        [[migrations]]
        tag = "v1"
        new_sqlite_classes = ["Room"]
        [[migrations]]
        tag = "v2"
        renamed_classes = [{ from = "Room", to = "Renamed" }]
    """))  # fmt: skip
    h = await hearth(after, state_dir=tmp_path / "state")
    assert h.env().R.idFromName("x").toString() == old_id
    assert await h.env().R.getByName("x").get() == "kept"
    assert (
        await runInDurableObject(
            h.env().R.getByName("x"), lambda i, ctx: ctx.storage.sql.databaseSize
        )
        > 4096
    )


async def test_classes_without_a_migration_are_key_value_only(hearth, tmp_path):
    file = write(tmp_path, BASE + '[[durable_objects.bindings]]\nname = "R"\nclass_name = "Room"\n')
    h = await hearth(file, state_dir=tmp_path / "state")
    with pytest.raises(Exception, match=r"SQL is not enabled"):
        await runInDurableObject(h.env().R.getByName("x"), lambda i, ctx: ctx.storage.sql)
