"""Reading wrangler_compat.toml / wrangler.toml / wrangler.jsonc, and failing clearly."""

import pytest

from bindings import ConfigError, Runtime
from bindings.config import from_document, load, parse_dotenv, strip_jsonc
from tests.conftest import FIXTURES, ROOT


def doc_error(doc, tmp_path) -> str:
    with pytest.raises(ConfigError) as info:
        from_document(doc, tmp_path / "wrangler_compat.toml")
    return str(info.value)


def test_project_config_loads():
    config = load(ROOT / "wrangler_compat.toml")
    assert [w.name for w in config.workers]
    assert all(w.main for w in config.workers)


def test_env_inheritance_rules(tmp_path):
    doc = {
        "name": "w",
        "main": "m",
        "routes": ["/a*"],
        "vars": {"A": "top", "B": "top"},
        "services": [{"binding": "S", "service": "w"}],
        "env": {"prod": {"vars": {"A": "prod"}}},
    }
    top = from_document(doc, tmp_path / "wrangler.toml").workers[0]
    assert top.vars == {"A": "top", "B": "top"} and [d.name for _, d in top.bindings] == ["S"]
    prod = from_document(doc, tmp_path / "wrangler.toml", env="prod").workers[0]
    assert prod.name == "w" and prod.main == "m" and prod.routes == ["/a*"]  # inherited
    assert prod.vars == {"A": "prod"}  # vars are not inherited
    assert prod.bindings == []  # nor are bindings


def test_json_vars_get_attribute_access(tmp_path):
    doc = {"name": "w", "main": "m", "vars": {"CONF": {"limits": {"max": 3}}, "N": 7}}
    w = from_document(doc, tmp_path / "wrangler.toml").workers[0]
    assert w.vars["CONF"].limits.max == 3 and w.vars["N"] == 7


def test_routes_accept_wrangler_route_tables(tmp_path):
    doc = {
        "name": "w",
        "main": "m",
        "routes": ["/x*", {"pattern": "api.example.com/*", "zone_name": "example.com"}],
    }
    assert from_document(doc, tmp_path / "w.toml").workers[0].routes == ["/x*", "api.example.com/*"]


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"workers": [{"main": "m"}]}, "workers[0].name: is required"),
        (
            {"workers": [{"name": "a", "main": "m", "vectorize": []}]},
            "workers[0].vectorize: unsupported binding type 'vectorize'",
        ),
        (
            {"workers": [{"name": "a", "main": "m", "colour": "red"}]},
            "workers[0].colour: unknown key",
        ),
        (
            {"workers": [{"name": "a", "main": "m"}, {"name": "a", "main": "m"}]},
            "workers[1].name: duplicate worker name 'a'",
        ),
        (
            {
                "workers": [
                    {
                        "name": "a",
                        "main": "m",
                        "vars": {"S": "x"},
                        "services": [{"binding": "S", "service": "a"}],
                    }
                ]
            },
            "workers[0].services[0]: duplicate binding name 'S'",
        ),
        (
            {"workers": [{"name": "a", "main": "m", "services": [{"binding": "S"}]}]},
            "workers[0].services[0].service: is required",
        ),
        (
            {"workers": [{"name": "a", "main": "m", "services": {"binding": "S"}}]},
            "workers[0].services: must be an array of tables",
        ),
        (
            {"workers": [{"name": "a", "main": "m", "routes": "/x"}]},
            "workers[0].routes: must be an array",
        ),
        ({"workers": [{"name": "a b", "main": "m"}]}, "workers[0].name: may contain only"),
        ({"workers": [], "extra": 1}, "workers: must be a non-empty array"),
        (
            {"name": "a", "main": "m", "compatibility_date": "yesterday"},
            "compatibility_date: must be a date",
        ),
    ],
)
def test_bad_config_names_file_key_and_problem(doc, message, tmp_path):
    text = doc_error(doc, tmp_path)
    assert str(tmp_path / "wrangler_compat.toml") in text
    assert message in text


def test_env_override_errors_name_the_env_key(tmp_path):
    doc = {"name": "a", "main": "m", "env": {"prod": {"kv_spaces": []}}}
    with pytest.raises(ConfigError, match=r"env\.prod\.kv_spaces: unknown key"):
        from_document(doc, tmp_path / "wrangler.toml", env="prod")


def test_bad_toml_and_missing_file(tmp_path):
    bad = tmp_path / "wrangler.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid toml"):
        load(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("main", "message"),
    [
        ("", "workers[0].main: is required"),
        ("src/missing.py", "workers[0].main: file 'src/missing.py' not found"),
        ("no_such_module_xyz", "workers[0].main: cannot import 'no_such_module_xyz'"),
        ("broken_main", "workers[0].main: importing 'broken_main' failed: ZeroDivisionError"),
        ("plain_main", "defines no class Default(WorkerEntrypoint), on_fetch or ASGI app"),
        ("plain_main:nothing", "module 'plain_main' has no attribute 'nothing'"),
    ],
)
def test_unimportable_main(main, message, tmp_path):
    (tmp_path / "broken_main.py").write_text("1 / 0\n")
    (tmp_path / "plain_main.py").write_text("x = 1\n")
    config = from_document(
        {"workers": [{"name": "a", "main": main}]}, tmp_path / "wrangler_compat.toml"
    )
    with pytest.raises(ConfigError) as info:
        Runtime(config).load()
    assert message in str(info.value)


def test_service_binding_to_a_missing_worker(tmp_path):
    (tmp_path / "okmain.py").write_text(
        "from workers import WorkerEntrypoint, Response\n"
        "class Default(WorkerEntrypoint):\n"
        "    async def fetch(self, r):\n"
        "        return Response('x')\n"
    )
    doc = {
        "workers": [
            {"name": "a", "main": "okmain", "services": [{"binding": "B", "service": "ghost"}]}
        ]
    }
    config = from_document(doc, tmp_path / "wrangler_compat.toml")
    with pytest.raises(
        ConfigError, match=r"workers\[0\].services\[0\].service: no worker named 'ghost'"
    ):
        Runtime(config).load()


def test_dotenv_syntax(tmp_path):
    text = (
        'A=1\nexport B="two words"\nC=\'single\'\n# comment\nD=plain # trailing\nE="line\\nbreak"\n'
    )
    assert parse_dotenv(text, tmp_path / ".dev.vars") == {
        "A": "1",
        "B": "two words",
        "C": "single",
        "D": "plain",
        "E": "line\nbreak",
    }
    with pytest.raises(ConfigError, match="line 1: expected KEY=value"):
        parse_dotenv("not a line\n", tmp_path / ".dev.vars")


def test_dev_vars_env_file_replaces_default(tmp_path):
    (tmp_path / ".dev.vars").write_text("S=default\n")
    (tmp_path / ".dev.vars.prod").write_text("S=prod\n")
    doc = {"name": "a", "main": "m"}
    assert from_document(doc, tmp_path / "wrangler.toml").workers[0].secrets == {"S": "default"}
    assert from_document(doc, tmp_path / "wrangler.toml", "prod").workers[0].secrets == {
        "S": "prod"
    }


def test_env_file_names_the_secrets_instead_of_dev_vars(tmp_path, monkeypatch):
    (tmp_path / ".dev.vars").write_text("S=default\n")
    (tmp_path / "prod.env").write_text("S=from-file\n")
    doc = {"name": "a", "main": "m"}
    monkeypatch.setenv("HEARTH_ENV_FILE", str(tmp_path / "prod.env"))
    assert from_document(doc, tmp_path / "wrangler.toml").workers[0].secrets == {"S": "from-file"}
    monkeypatch.setenv("HEARTH_ENV_FILE", str(tmp_path / "missing.env"))
    with pytest.raises(ConfigError, match=r"missing\.env: file not found"):
        from_document(doc, tmp_path / "wrangler.toml")


def test_strip_jsonc_keeps_strings():
    text = '{"url": "http://x//y", /* c */ "a": [1, 2,], // end\n "b": "/* not */",}'
    assert strip_jsonc(text).replace(" ", "") == '{"url":"http://x//y","a":[1,2],\n"b":"/*not*/"}'


def test_single_worker_fixture_files_load():
    assert load(FIXTURES / "cf_default" / "wrangler.toml").workers[0].name == "hello-python"
    assert load(FIXTURES / "cf_asgi" / "wrangler.jsonc").workers[0].vars == {
        "MESSAGE": "from starlette"
    }
