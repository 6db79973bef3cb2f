"""The shop on a real server (``python -m bindings dev``): an empty catalogue without seeding,
``scripts/seed`` while it runs (idempotent), and buyers racing over real sockets."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import pytest

from bindings.testing import server
from tests.api.shop import SECRETS, shop_config
from tests.conftest import ROOT
from tests.processes import Cluster

pytestmark = pytest.mark.e2e


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def config(tmp_path):
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / ".dev.vars").write_text("".join(f"{k}={v}\n" for k, v in SECRETS.items()))
    path = folder / "wrangler.json"
    path.write_text(json.dumps(shop_config()))
    return path


def seed(config, state, products: int) -> str:
    """``scripts/seed`` on the server's state; its output."""
    done = run("scripts/seed", "--config", str(config), "--persist-to", str(state),
               "--products", str(products))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def stock(config, state, product_id: int, count: int) -> None:
    """Set a product's inventory with ``d1 execute`` (another process, as an operator would)."""
    sql = f"UPDATE products SET inventory_count = {count} WHERE id = {product_id}"
    done = run("-m", "bindings", "d1", "execute", "DB", "--config", str(config),
               "--persist-to", str(state), "--command", sql)  # fmt: skip
    assert done.returncode == 0, done.stderr


async def customer(client: httpx.AsyncClient, n: int) -> dict[str, str]:
    email = f"buyer{n}@example.com"
    await client.post("/auth/register", json={"email": email, "password": "buyer-password"})
    login = await client.post("/auth/login", json={"email": email, "password": "buyer-password"})
    assert login.status_code == 200, login.text
    return {"authorization": f"Bearer {login.json()['accessToken']}"}


async def test_dev_without_seed_then_seed_then_a_race(config, tmp_path):
    state = tmp_path / "state"
    with server(config, state) as s:
        async with httpx.AsyncClient(base_url=s.url, timeout=30) as client:
            empty = await client.get("/products")
            assert empty.status_code == 200  # dev applied the migrations; nothing seeded
            assert empty.json() == {
                "products": [],
                "pagination": {"page": 1, "limit": 20, "total": 0, "pages": 0},
            }
            assert (await client.get("/categories")).json() == {"categories": []}

            assert "30 demo products (30 new), 30 new images" in seed(config, state, 30)
            # the cached empty page is gone: the seed renewed the list generation
            listed = (await client.get("/products?limit=100")).json()
            assert listed["pagination"]["total"] == 30
            assert len((await client.get("/categories")).json()["categories"]) == 8
            product = listed["products"][0]
            image = await client.get(product["image_url"])
            assert image.status_code == 200 and image.headers["content-type"] == "image/png"
            assert image.content.startswith(b"\x89PNG")

            assert "(0 new), 0 new images" in seed(config, state, 30)  # idempotent
            assert (await client.get("/products")).json()["pagination"]["total"] == 30

            stock(config, state, product["id"], 5)
            buyers = [await customer(client, n) for n in range(20)]
            for headers in buyers:
                added = await client.post(
                    "/cart/items", headers=headers, json={"productId": product["id"]}
                )
                assert added.status_code == 200, added.text
            orders = await asyncio.gather(
                *(client.post("/orders", headers=headers) for headers in buyers)
            )
            statuses = [r.status_code for r in orders]
            assert statuses.count(201) == 5 and statuses.count(409) == 15, statuses
            page = (await client.get(f"/products/{product['id']}")).json()
            assert page["inventory_count"] == 0


async def test_two_processes_share_one_shop(config, tmp_path):
    """``serve --workers 2``: carts are owned by one process and reached from the other, orders
    from both race for the same stock, and a write through one process is seen by the other's
    cache at once."""
    state = tmp_path / "state"
    seed(config, state, 4)
    stock(config, state, 1, 5)
    with Cluster(state, config=config, workers=2) as cluster:
        one, two = (httpx.AsyncClient(base_url=cluster.url(i), timeout=30) for i in range(2))
        async with one, two:
            before = await two.get("/products/1")
            assert before.json()["inventory_count"] == 5
            await two.get("/products/1")  # cached in KV now, by process 1
            buyers = [await customer(one, n) for n in range(12)]
            for n, headers in enumerate(buyers):  # carts filled through either process
                client = (one, two)[n % 2]
                added = await client.post("/cart/items", headers=headers, json={"productId": 1})
                assert added.status_code == 200, added.text
            assert (await one.get("/cart", headers=buyers[1])).json()["items"][0]["productId"] == 1
            orders = await asyncio.gather(*(
                (two, one)[n % 2].post("/orders", headers=headers)
                for n, headers in enumerate(buyers)
            ))  # fmt: skip
            statuses = [r.status_code for r in orders]
            assert statuses.count(201) == 5 and statuses.count(409) == 7, statuses
            after = await two.get("/products/1")  # process 0's orders retired process 1's entry
            assert after.json()["inventory_count"] == 0


def test_seed_refuses_bad_arguments(tmp_path):
    bad = run("scripts/seed", "--products", "-1", "--persist-to", str(tmp_path))
    assert bad.returncode == 2 and "--products" in bad.stderr
    missing = run("scripts/seed", "--config", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "error:" in missing.stderr
