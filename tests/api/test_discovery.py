"""GET /search (FTS5, bm25-ranked, kept in sync by triggers) and GET /recommendations
(bought together, then the same category)."""

from __future__ import annotations

import pytest


@pytest.fixture
async def things(shop, admin):
    gear = await shop.category(admin, "Gear")
    toys = await shop.category(admin, "Toys")
    made = {}
    for key, category, name, description in [
        ("tent", gear, "Camping Tent", "Sleeps two; pairs well with a lantern"),
        ("lantern", gear, "Lantern", "Bright light for camping trips"),
        ("stove", gear, "Camp Stove", "Cooks anything"),
        ("rope", gear, "Rope", "Twenty metres"),
        ("kite", toys, "Kite", "Flies in any wind, great for camping"),
        ("ball", toys, "Ball", "Bounces"),
    ]:
        made[key] = await shop.product(
            admin, category, name=name, description=description, inventory_count=50
        )
    return made


async def test_search_ranks_name_matches_first(shop, things):
    response = await shop.get("/search?q=lantern")
    assert response.status_code == 200
    body = response.json()
    assert [r["name"] for r in body["results"]] == ["Lantern", "Camping Tent"]
    assert body["query"] == "lantern" and body["pagination"]["total"] == 2
    # "camping" stems to "camp": two names hold it, two descriptions do
    found = (await shop.get("/search?q=camping")).json()["results"]
    assert {r["name"] for r in found[:2]} == {"Camping Tent", "Camp Stove"}
    assert {r["name"] for r in found[2:]} == {"Lantern", "Kite"}
    ranks = [r["rank"] for r in found]
    assert ranks == sorted(ranks)  # bm25: lower is better


async def test_search_words_stems_prefixes_and_filters(shop, things):
    async def names(query):
        return {r["name"] for r in (await shop.get(f"/search?{query}")).json()["results"]}

    assert await names("q=lanterns") == {"Camping Tent", "Lantern"}  # porter stemming
    assert await names("q=bou") == {"Ball"}  # the last word is also a prefix
    assert await names("q=bou+any") == set()  # every word must match
    assert await names("q=camping+light") == {"Lantern"}
    assert await names("q=camping&category=toys") == {"Kite"}
    assert await names("q=CAMPING") == await names("q=camping")
    assert await names("q=zeppelin") == set()
    page = (await shop.get("/search?q=camping&limit=1&page=2")).json()
    assert len(page["results"]) == 1 and page["pagination"]["pages"] == 4


async def test_search_follows_writes(shop, admin, things):
    tent = things["tent"]
    await shop.put(f"/products/{tent['id']}", admin, json={"name": "Dome Shelter"})
    names = {r["name"] for r in (await shop.get("/search?q=dome")).json()["results"]}
    assert names == {"Dome Shelter"}
    assert "Dome Shelter" not in {
        r["name"] for r in (await shop.get("/search?q=camping")).json()["results"]
    }
    await shop.put(f"/products/{tent['id']}", admin, json={"active": False})
    assert (await shop.get("/search?q=dome")).json()["results"] == []
    # the index stays consistent with the table through every change
    check = await shop.db.prepare(
        "INSERT INTO products_fts (products_fts, rank) VALUES ('integrity-check', 1)"
    ).run()
    assert check["success"]


async def test_search_input_cannot_break_the_query(shop, things):
    for q in [
        'camping"',
        "camping OR ball",
        "NEAR(camping ball)",
        "camp*",
        "-ball",
        "a:b",
        "camping AND",
        "^camping",
        "'; DROP TABLE products; --",
    ]:
        response = await shop.get("/search", params={"q": q})
        assert response.status_code == 200, q
    assert (await shop.get("/search", params={"q": "camping OR ball"})).json()["results"] == []
    for query, message in [
        ("", "q is required"),
        ("q=", "q is required"),
        ("q=%2A%22%28", "q must contain a word"),
        ("q=" + "a" * 201, "q must have at most 200 characters"),
        ("q=x&limit=0", "limit must be between 1 and 100"),
    ]:
        response = await shop.get(f"/search?{query}")
        assert (response.status_code, response.json()) == (400, {"error": message}), query


async def test_recommendations_bought_together_then_same_category(shop, things):
    tent, lantern, stove, rope, kite = (
        things[k] for k in ("tent", "lantern", "stove", "rope", "kite")
    )
    baskets = [[tent, lantern, kite], [tent, lantern], [tent, kite], [tent, lantern]]
    for basket in baskets:
        buyer = await shop.user()
        for product in basket:
            await shop.post("/cart/items", buyer, json={"productId": product["id"]})
        assert (await shop.post("/orders", buyer)).status_code == 201
    response = await shop.get(f"/recommendations?productId={tent['id']}&limit=4")
    assert response.status_code == 200
    picks = response.json()["recommendations"]
    assert [(p["name"], p["reason"], p["score"]) for p in picks[:2]] == [
        ("Lantern", "bought_together", 3),
        ("Kite", "bought_together", 2),
    ]
    assert {p["name"] for p in picks[2:]} == {"Camp Stove", "Rope"}
    assert {p["reason"] for p in picks[2:]} == {"same_category"}
    assert tent["id"] not in [p["id"] for p in picks]
    only_category = (await shop.get(f"/recommendations?productId={rope['id']}")).json()
    assert {p["name"] for p in only_category["recommendations"]} == {
        "Camping Tent",
        "Lantern",
        "Camp Stove",
    }
    assert stove["id"] in [p["id"] for p in only_category["recommendations"]]


async def test_recommendations_bad_input(shop, admin, things):
    for query, status, message in [
        ("", 400, "productId is required"),
        ("productId=abc", 400, "productId must be an integer"),
        ("productId=1&limit=51", 400, "limit must be between 1 and 50"),
        ("productId=99999", 404, "Product not found"),
        ("productId=99999999999999999999", 400, f"productId must be between 1 and {2**53 - 1}"),
    ]:
        response = await shop.get(f"/recommendations?{query}")
        assert (response.status_code, response.json()) == (status, {"error": message}), query
    await shop.put(f"/products/{things['ball']['id']}", admin, json={"active": False})
    hidden = await shop.get(f"/recommendations?productId={things['ball']['id']}")
    assert hidden.status_code == 404
    picks = (await shop.get(f"/recommendations?productId={things['kite']['id']}")).json()
    assert picks["recommendations"] == []  # the only other toy is withdrawn
