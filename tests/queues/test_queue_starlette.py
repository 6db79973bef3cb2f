"""A Starlette-app worker consumes its queue through ``class Default(asgi.entrypoint(app))``."""

from __future__ import annotations

import pytest

from tests.queues.conftest import until

APP = '''
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from workers import asgi

SEEN = []


async def enqueue(request):
    env = request.scope["env"]
    await env.JOBS.send(await request.json())
    return JSONResponse({"queued": True}, status_code=202)


async def seen(request):
    return JSONResponse(SEEN)


app = Starlette(routes=[Route("/jobs", enqueue, methods=["POST"]), Route("/seen", seen)])


class Default(asgi.entrypoint(app)):
    """The same file is a valid Cloudflare Python Worker: fetch goes to the app."""

    async def queue(self, batch, env, ctx):
        for message in batch.messages:
            SEEN.append({"queue": batch.queue, "job": message.body, "mine": env is self.env})
            message.ack()
'''


@pytest.mark.parametrize("main", ["jobs_app.py:app", "jobs_app.py"])
async def test_starlette_worker_consumes_its_queue(hearth, tmp_path, main):
    (tmp_path / "jobs_app.py").write_text(APP)
    h = await hearth(
        {
            "hearth": {"queues": {"poll_interval": 0.01}},
            "workers": [
                {
                    "name": "jobs",
                    "main": main,
                    "queues": {
                        "producers": [{"binding": "JOBS", "queue": "jobs"}],
                        "consumers": [{"queue": "jobs", "max_batch_timeout": 0}],
                    },
                }
            ],
        }
    )
    worker = h.worker("jobs")
    assert worker.main.asgi_app is worker.main.module.app  # fetch is served by the app itself
    assert (await h.SELF.post("/jobs", json={"id": 7})).status_code == 202
    await until(lambda: worker.main.module.SEEN)
    assert (await h.SELF.get("/seen")).json() == [{"queue": "jobs", "job": {"id": 7}, "mine": True}]
