"""The queues section and [hearth.queues]: wrangler's keys accepted, mistakes named precisely."""

from __future__ import annotations

import pytest

from bindings import ConfigError, Runtime
from bindings.testing import load_config

HANDLER = """
from workers import WorkerEntrypoint
class Default(WorkerEntrypoint):
    async def queue(self, batch, env, ctx):
        pass
"""


def config(tmp_path, *workers, hearth=None):
    (tmp_path / "handler.py").write_text(HANDLER)
    (tmp_path / "plain.py").write_text("async def on_fetch(request):\n    return None\n")
    doc = {"workers": [{"main": "handler.py", **w} for w in workers]}
    if hearth is not None:
        doc["hearth"] = hearth
    return load_config(doc, tmp_path)


def test_seed_style_config_parses(tmp_path):
    cfg = config(
        tmp_path,
        {
            "name": "profiles",
            "queues": {
                "producers": [{"binding": "QUEUE", "queue": "multilogin-tasks"}],
                "consumers": [
                    {"queue": "multilogin-tasks", "max_batch_size": 10, "max_retries": 3}
                ],
            },
        },
    )
    [(plugin, decl)] = cfg.workers[0].bindings
    assert plugin.kind == "queue" and decl.name == "QUEUE" and decl.queue == "multilogin-tasks"
    Runtime(cfg, state_dir=tmp_path / "s").load()


@pytest.mark.parametrize(
    ("queues", "key", "problem"),
    [
        ({"consumers": [{"queue": "q", "max_batch_size": 0}]},
         "queues.consumers[0].max_batch_size", "must be an integer from 1 to 100"),
        ({"consumers": [{"queue": "q", "max_batch_timeout": 61}]},
         "queues.consumers[0].max_batch_timeout", "must be a number from 0 to 60"),
        ({"consumers": [{"queue": "q", "retry_delay": 86401}]},
         "queues.consumers[0].retry_delay", "must be an integer from 0 to 86400"),
        ({"consumers": [{"queue": "q", "dead_letter_queue": "q"}]},
         "queues.consumers[0].dead_letter_queue",
         'Dead letter queue for queue "q" cannot be itself'),
        ({"consumers": [{"queue": "q", "type": "http_pull"}]},
         "queues.consumers[0].type", "no pull consumers"),
        ({"consumers": [{"queue": "q", "max_batch_sise": 3}]},
         "queues.consumers[0].max_batch_sise", "unknown key"),
        ({"producers": [{"binding": "Q"}]}, "queues.producers[0].queue", "is required"),
        ({"producers": [{"binding": "Q", "queue": "q", "delivery_delay": -1}]},
         "queues.producers[0].delivery_delay", "must be an integer from 0 to 86400"),
        ({"producer": []}, "queues.producer", "unknown key"),
    ],
)  # fmt: skip
def test_bad_queue_settings_name_the_key(tmp_path, queues, key, problem):
    with pytest.raises(ConfigError) as info:
        config(tmp_path, {"name": "w", "queues": queues})
    assert info.value.key == f"workers[0].{key}"
    assert problem in info.value.problem


def test_one_consumer_per_queue(tmp_path):
    consumer = {"queues": {"consumers": [{"queue": "jobs"}]}}
    cfg = config(tmp_path, {"name": "a", **consumer}, {"name": "b", **consumer})
    with pytest.raises(
        ConfigError, match='Multiple consumers defined for queue "jobs": "a" and "b"'
    ):
        Runtime(cfg, state_dir=tmp_path / "s").load()


def test_a_consumer_needs_a_queue_handler(tmp_path):
    cfg = config(tmp_path, {"name": "a", "main": "plain.py",
                            "queues": {"consumers": [{"queue": "jobs"}]}})  # fmt: skip
    with pytest.raises(ConfigError, match=r"queue\(self, batch, env, ctx\)") as info:
        Runtime(cfg, state_dir=tmp_path / "s").load()
    assert info.value.key == "workers[0].queues.consumers[0]"


@pytest.mark.parametrize(
    ("hearth", "key", "problem"),
    [
        ({"queues": {"backend": "kafka"}}, "hearth.queues.backend", 'must be "sqlite" or "redis"'),
        ({"queues": {"backends": {"q": "nats"}}}, "hearth.queues.backends.q", "must be"),
        ({"queues": {"poll_interval": 0}}, "hearth.queues.poll_interval", "positive"),
        ({"queues": {"synchronous": "off"}}, "hearth.queues.synchronous", '"normal" or "full"'),
        ({"queues": {"colour": "red"}}, "hearth.queues.colour", "unknown key"),
    ],
)
def test_bad_hearth_queue_settings(tmp_path, hearth, key, problem):
    with pytest.raises(ConfigError) as info:
        config(tmp_path, {"name": "w", "queues": {"producers": []}}, hearth=hearth)
    assert info.value.key == key and problem in info.value.problem
