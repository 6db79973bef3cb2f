"""Admin writes: POST /products and PUT /products/{id} (multipart with images, or JSON),
slugs, AI-enhanced descriptions, categories, and who may do them."""

from __future__ import annotations

from tests.api.shop import PNG, start_shop
from tests.test_ai import openai_server  # noqa: F401 - the OpenAI-compatible test server

GIF = b"GIF89a" + b"\x00" * 32


def form(category_id, **fields):
    return {"name": "Trail Boot", "price": "12999", "category_id": str(category_id), **fields}


async def test_multipart_create_with_images(shop, admin):
    category = await shop.category(admin)
    files = [
        ("images", ("front view.png", PNG, "image/png")),
        ("images", ("../side.gif", GIF, "image/gif")),
    ]
    response = await shop.post(
        "/products",
        admin,
        data=form(category["id"], description="Tough boot", inventory_count="7", sku="TB-1"),
        files=files,
    )
    assert response.status_code == 201, response.text
    product = response.json()
    assert product["slug"] == "trail-boot" and product["price"] == 12999
    assert product["inventory_count"] == 7 and product["sku"] == "TB-1" and product["active"] == 1
    assert product["ai_description"] == "Tough boot"  # no AI endpoint: the seed's fallback
    images = product["images"]
    assert [i["sort_order"] for i in images] == [0, 1]
    assert [i["content_type"] for i in images] == ["image/png", "image/gif"]
    for image, data in zip(images, [PNG, GIF], strict=True):
        assert image["filename"].startswith(f"products/{product['id']}/")
        assert ".." not in image["filename"] and " " not in image["filename"]
        stored = await shop.api.STORAGE.get(image["filename"])
        assert await stored.bytes() == data
        assert stored.customMetadata["productId"] == str(product["id"])
        served = await shop.get(image["url"])
        assert served.status_code == 200 and served.content == data
    assert product["image_url"] == images[0]["url"]


async def test_json_create_and_partial_update(shop, admin):
    category = await shop.category(admin)
    other = await shop.category(admin, "Boots")
    product = await shop.product(admin, category, name="Canvas Tote", price=2500)
    response = await shop.put(
        f"/products/{product['id']}", admin, json={"price": 2750, "category_id": other["id"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["price"] == 2750 and body["category_name"] == "Boots"
    assert body["name"] == "Canvas Tote" and body["slug"] == product["slug"]  # untouched
    more = await shop.put(
        f"/products/{product['id']}",
        admin,
        data={"description": "Roomy"},
        files=[("images", ("a.png", PNG, "image/png"))],
    )
    assert more.status_code == 200
    body = more.json()
    assert body["description"] == "Roomy" and body["ai_description"] == "Roomy"
    assert len(body["images"]) == 1 and body["price"] == 2750


async def test_slugs_are_unique(shop, admin):
    category = await shop.category(admin)
    slugs = []
    for name in ["Crème Brûlée Set!", "Creme brulee set", "CREME  BRULEE -- SET", "   ***   "]:
        slugs.append((await shop.product(admin, category, name=name))["slug"])
    assert slugs == ["creme-brulee-set", "creme-brulee-set-2", "creme-brulee-set-3", "product"]


async def test_customers_and_anonymous_callers_cannot_write(shop, admin, alice):
    category = await shop.category(admin)
    product = await shop.product(admin, category)
    writes = [
        ("POST", "/products", {"json": {"name": "x", "price": 1, "category_id": category["id"]}}),
        ("PUT", f"/products/{product['id']}", {"json": {"price": 1}}),
        ("POST", "/categories", {"json": {"name": "Hats"}}),
    ]
    for method, path, kwargs in writes:
        anonymous = await shop.request(method, path, **kwargs)
        assert (anonymous.status_code, anonymous.json()) == (
            401,
            {"error": "Authentication required"},
        )
        customer = await shop.request(method, path, alice, **kwargs)
        assert (customer.status_code, customer.json()) == (
            403,
            {"error": "Insufficient permissions"},
        )
        forged = await shop.request(method, path, headers={"authorization": "Bearer a.b.c"})
        assert forged.status_code == 401
    page = (await shop.get(f"/products/{product['id']}")).json()
    assert page["price"] == product["price"]
    assert [c["name"] for c in (await shop.get("/categories")).json()["categories"]] == ["Shoes"]


async def test_an_admin_signed_in_with_a_session_cookie(shop):
    from workers.auth.accounts import create_account
    from workers.auth.store import Store

    env = shop.h.env("auth")
    await shop.run(
        lambda: create_account(
            Store(env.DB),
            email="boss@example.com",
            name="Boss",
            password="boss-password-1",
            role="admin",
        )
    )
    signed = await shop.post(
        "/api/auth/sign-in/email", json={"email": "boss@example.com", "password": "boss-password-1"}
    )
    assert signed.status_code == 200
    shop.h.SELF.cookies.clear()
    cookie = signed.headers["set-cookie"].split(";")[0]
    created = await shop.post("/categories", headers={"cookie": cookie}, json={"name": "Hats"})
    assert created.status_code == 201 and created.json()["slug"] == "hats"


async def test_bad_product_input(shop, admin):
    category = await shop.category(admin)
    good = {"name": "Cap", "price": 500, "category_id": category["id"]}
    cases = [
        ({k: v for k, v in good.items() if k != "name"}, "name is required"),
        ({**good, "name": "   "}, "name must not be empty"),
        ({**good, "name": 5}, "name must be a string"),
        ({**good, "name": "n" * 201}, "name must have at most 200 characters"),
        ({**good, "price": "500"}, "price must be an integer"),
        ({**good, "price": 5.5}, "price must be an integer"),
        ({**good, "price": True}, "price must be an integer"),
        ({**good, "price": -1}, "price must be between 0 and 100000000"),
        ({**good, "price": 10**30}, "price must be between 0 and 100000000"),
        ({**good, "category_id": None}, "category_id is required"),
        ({**good, "category_id": 424242}, "category_id 424242 is not a category"),
        ({**good, "inventory_count": -3}, "inventory_count must be between 0 and 1000000"),
        ({**good, "active": "yes"}, "active must be true or false"),
        ({**good, "description": ["a"]}, "description must be a string"),
    ]
    for body, message in cases:
        response = await shop.post("/products", admin, json=body)
        assert (response.status_code, response.json()) == (400, {"error": message}), body
    for data, message in [
        ({**good, "price": "19.99"}, "price must be an integer"),
        ({**good, "price": "12abc"}, "price must be an integer"),
        ({**good, "category_id": "x"}, "category_id must be an integer"),
        ({**good, "active": "maybe"}, "active must be true or false"),
    ]:
        response = await shop.post("/products", admin, data={k: str(v) for k, v in data.items()})
        assert (response.status_code, response.json()) == (400, {"error": message}), data
    malformed = await shop.post(
        "/products", admin, content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert (malformed.status_code, malformed.json()) == (400, {"error": "Malformed JSON body"})
    nested = await shop.post(
        "/products", admin, content=b"[" * 100_000, headers={"content-type": "application/json"}
    )
    assert nested.status_code == 400
    text = await shop.post(
        "/products", admin, content=b"hi", headers={"content-type": "text/plain"}
    )
    assert text.status_code == 415
    assert (await shop.get("/products")).json()["pagination"]["total"] == 0


async def test_duplicate_sku_and_unknown_product(shop, admin):
    category = await shop.category(admin)
    await shop.product(admin, category, sku="SKU-1")
    again = await shop.post(
        "/products",
        admin,
        json={"name": "Other", "price": 1, "category_id": category["id"], "sku": "SKU-1"},
    )
    assert (again.status_code, again.json()) == (409, {"error": "Another product has this sku"})
    missing = await shop.put("/products/9999", admin, json={"price": 1})
    assert (missing.status_code, missing.json()) == (404, {"error": "Product not found"})
    junk = await shop.put("/products/abc", admin, json={"price": 1})
    assert junk.status_code == 404


async def test_bad_images_are_refused_before_anything_is_written(hearth, tmp_path):
    shop = await start_shop(hearth, tmp_path, api_vars={"MEDIA_MAX_BYTES": 1000})
    admin = await shop.user(role="admin")
    category = await shop.category(admin)
    cases = [
        ([("images", ("x.png", b"<html><script>1</script>", "image/png"))], 415),
        (
            [("images", ("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"))],
            415,
        ),
        ([("images", ("x.png", GIF, "image/png"))], 415),  # a GIF claiming to be a PNG
        ([("images", ("big.png", PNG + b"\x00" * 1000, "image/png"))], 413),
        ([("images", ("x.png", b"", "image/png"))] * 11, 400),  # more than 10 files
        ([], 400),  # (plus "images" sent as a text field below)
    ]
    for files, status in cases:
        data = form(category["id"], **({"images": "not-a-file"} if not files else {}))
        response = await shop.post("/products", admin, data=data, files=files or None)
        assert response.status_code == status, (files, response.text)
        assert isinstance(response.json()["error"], str)
    huge = await shop.post(
        "/products",
        admin,
        data=form(category["id"]),
        files=[("images", ("h.png", PNG + b"\x00" * 20_000, "image/png"))] * 1,
    )
    assert huge.status_code == 413
    assert (await shop.get("/products")).json()["pagination"]["total"] == 0
    assert (await shop.api.STORAGE.list())["objects"] == []


async def test_ai_enhanced_description(hearth, tmp_path, openai_server):  # noqa: F811
    ai = {"url": openai_server.url, "models": {"@cf/meta/llama-2-7b-chat-int8": "shop-llm"}}
    shop = await start_shop(hearth, tmp_path, ai=ai)
    admin = await shop.user(role="admin")
    category = await shop.category(admin)
    product = await shop.product(admin, category, name="Kite", description="Flies high")
    sent = openai_server.seen[-1].body
    assert sent["model"] == "shop-llm" and sent["max_tokens"] == 200
    assert "Product: Kite" in sent["messages"][0]["content"]
    assert "Current description: Flies high" in sent["messages"][0]["content"]
    assert product["ai_description"].startswith("shop-llm heard:")
    assert product["description"] == "Flies high"


async def test_ai_endpoint_down_falls_back(hearth, tmp_path):
    from bindings.testing import free_port

    shop = await start_shop(hearth, tmp_path, ai={"url": f"http://127.0.0.1:{free_port()}/v1"})
    admin = await shop.user(role="admin")
    product = await shop.product(admin, await shop.category(admin), description="Plain words")
    assert product["ai_description"] == "Plain words"


async def test_categories(shop, admin):
    hats = await shop.category(admin, "Hats & Caps")
    assert hats["slug"] == "hats-caps" and hats["product_count"] == 0
    await shop.product(admin, hats)
    await shop.product(admin, hats, active=False)
    listed = (await shop.get("/categories")).json()["categories"]
    assert [(c["name"], c["product_count"]) for c in listed] == [("Hats & Caps", 1)]
    twice = await shop.post("/categories", admin, json={"name": "hats caps"})
    assert (twice.status_code, twice.json()) == (409, {"error": "A category with this name exists"})
    for body, message in [({}, "name is required"), ({"name": 1}, "name must be a string")]:
        response = await shop.post("/categories", admin, json=body)
        assert (response.status_code, response.json()) == (400, {"error": message})
