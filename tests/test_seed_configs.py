"""The wrangler.toml blocks written in the seeds parse into the bindings they declare."""

import pytest

from bindings.config import load
from tests.conftest import FIXTURES

SEEDS = FIXTURES / "seeds"


def kinds(worker):
    return {decl.name: plugin.kind for plugin, decl in worker.bindings}


def test_seed_000_app():
    (w,) = load(SEEDS / "000-app.toml").workers
    assert w.name == "my-app-api" and w.main == "src/index.js"
    assert kinds(w) == {"DB": "d1", "CACHE": "kv", "SESSIONS": "kv", "STORAGE": "r2", "AI": "ai"}
    assert w.vars == {"JWT_SECRET": "your-jwt-secret", "APP_ENV": "production"}


@pytest.mark.parametrize("env", ["development", "staging", "production"])
def test_seed_000_environments(env):
    (w,) = load(SEEDS / "000-environments.toml", env).workers
    assert kinds(w) == {"DB": "d1"}
    short = {"development": "dev", "staging": "staging", "production": "prod"}[env]
    assert [d.database_name for _, d in w.bindings] == [f"my-app-{short}"]
    assert w.vars == {"ENV": env}


def test_seed_001_messaging():
    (w,) = load(SEEDS / "001-messaging.toml").workers
    namespace = "durable_object_namespace"
    assert kinds(w) == {"SESSIONS": namespace, "CONNECTIONS": namespace}
    assert w.vars == {"ENVIRONMENT": "production"}


def test_seed_002_multilogin():
    (w,) = load(SEEDS / "002-multilogin.toml").workers
    assert kinds(w) == {"DB": "d1", "R2": "r2", "KV": "kv", "QUEUE": "queue"}
    assert w.table["triggers"]["crons"] == ["0 */6 * * *"]
    assert w.table["queues"]["consumers"][0]["max_batch_size"] == 10
    prod = load(SEEDS / "002-multilogin.toml", "production").workers[0]
    assert prod.routes == ["api.multilogin.io"]
    assert prod.bindings == []  # bindings are not inherited by [env.production]


def test_seed_003_better_auth():
    (w,) = load(SEEDS / "003-better-auth.toml").workers
    assert kinds(w) == {"DB": "d1"}
    prod = load(SEEDS / "003-better-auth.toml", "production").workers[0]
    assert kinds(prod) == {"DB": "d1"}
    assert prod.vars == {"BETTER_AUTH_URL": "https://your-production-domain.workers.dev"}
    assert [d.database_id for _, d in prod.bindings] == ["your-production-database-id"]
