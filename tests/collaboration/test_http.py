"""The collaboration worker's HTTP routes in-process, with the project's config: the page and
its files, reading and saving a document, who may, and every kind of bad input."""

from __future__ import annotations

import pytest

from tests.auth.conftest import ORIGIN
from tests.collaboration.conftest import ALICE, BOB
from workers.collaboration.document import MAX_DOCUMENT_CHARS
from workers.collaboration.page import CSP


async def signed_in(site, who=ALICE) -> dict[str, str]:
    response, _ = await site.sign_in(*who)
    return {"authorization": f"Bearer {response.json()['token']}"}


async def test_the_page_needs_a_session_and_has_a_strict_policy(site):
    anonymous = await site.get("/rooms/notes")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
    _, cookie = await site.sign_in(*ALICE)
    page = await site.get("/rooms/notes", cookie=cookie)
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert 'data-room="notes"' in page.text and "<script>" not in page.text
    assert (await site.get("/rooms/bad%20name", cookie=cookie)).status_code == 400
    assert (await site.get("/rooms/_assets", cookie=cookie)).status_code == 400


async def test_static_files_are_served_and_revalidated(site):
    js = await site.get("/rooms/_assets/ot.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "function transform(" in js.text
    again = await site.get("/rooms/_assets/ot.js", headers={"if-none-match": js.headers["etag"]})
    assert again.status_code == 304
    assert (
        (await site.get("/rooms/_assets/room.css")).headers["content-type"].startswith("text/css")
    )
    missing = await site.get("/rooms/_assets/secret.py")
    assert missing.status_code == 404 and missing.json() == {"error": "Not Found"}
    assert (await site.get("/rooms/_assets/..%2Fapp.py")).status_code == 404


async def test_read_and_save_a_document(site):
    auth = await signed_in(site)
    fresh = await site.get("/rooms/plans/document", headers=auth)
    assert fresh.json() == {"room": "plans", "content": "", "version": 0}
    saved = await site.post("/rooms/plans/save", {"content": "one\r\ntwo\rthree"}, headers=auth)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {"room": "plans", "version": 1, "changed": True}
    read = (await site.get("/rooms/plans/document", headers=auth)).json()
    assert read == {"room": "plans", "content": "one\ntwo\nthree", "version": 1}
    edit = await site.post("/rooms/plans/save", {"content": "one\nTWO\nthree", "baseVersion": 1},
                           headers=auth)  # fmt: skip
    assert edit.json()["version"] == 3  # a delete and an insert: two versions
    same = await site.post("/rooms/plans/save", {"content": "one\nTWO\nthree"}, headers=auth)
    assert same.json() == {"room": "plans", "version": 3, "changed": False}
    stale = await site.post("/rooms/plans/save", {"content": "x", "baseVersion": 1}, headers=auth)
    assert stale.status_code == 409
    assert stale.json() == {"error": "The document changed since baseVersion", "version": 3}
    # Rooms are shared: every signed-in user reads and edits the same text.
    bob = await signed_in(site, BOB)
    assert (await site.get("/rooms/plans/document", headers=bob)).json()["content"] == (
        "one\nTWO\nthree"
    )
    other = (await site.get("/rooms/other/document", headers=bob)).json()
    assert other["content"] == "" and other["version"] == 0


async def test_every_operation_is_logged_to_d1_with_its_user(site):
    auth = await signed_in(site)
    await site.post("/rooms/log/save", {"content": "hello"}, headers=auth)
    await site.post("/rooms/log/save", {"content": "help"}, headers=auth)
    await site.h.runtime.tasks.drain()
    db = site.h.env("collaboration").DB
    rows = (await db.prepare(
        "SELECT room, version, operation_type, operation_data, u.email FROM document_operations "
        'JOIN "user" u ON u.id = user_id ORDER BY version').all()).results  # fmt: skip
    assert [(r.room, r.version, r.operation_type, r.email) for r in rows] == [
        ("log", 1, "insert", ALICE[0]), ("log", 2, "delete", ALICE[0]),
        ("log", 3, "insert", ALICE[0]),
    ]  # fmt: skip
    assert rows[1].operation_data == '{"type": "delete", "position": 3, "length": 2}'


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"content": 5}, 400, "content must be a string"),
        ({}, 400, "content must be a string"),
        ({"content": "x", "baseVersion": "1"}, 400, "baseVersion must be an integer"),
        ({"content": "x", "baseVersion": -1}, 400,
         "baseVersion must be between 0 and 9007199254740991"),
        ({"content": "x", "baseVersion": True}, 400, "baseVersion must be an integer"),
        (b'{"content": "\\ud800"}', 400, "content must be valid Unicode"),
        ({"content": "x" * (MAX_DOCUMENT_CHARS + 1)}, 413,
         f"documents hold at most {MAX_DOCUMENT_CHARS} characters"),
        ([1, 2], 400, "The body must be a JSON object"),
    ],
)  # fmt: skip
async def test_save_refuses_bad_bodies(site, body, status, error):
    headers = await signed_in(site)
    if isinstance(body, bytes):  # JSON that only escapes can spell
        headers["content-type"] = "application/json"
        response = await site.post("/rooms/bad/save", content=body, headers=headers)
    else:
        response = await site.post("/rooms/bad/save", body, headers=headers)
    assert (response.status_code, response.json()) == (status, {"error": error})


async def test_save_refuses_malformed_json_and_other_types(site):
    auth = await signed_in(site)
    bad = await site.post("/rooms/x/save", content=b"{nope",
                          headers={**auth, "content-type": "application/json"})  # fmt: skip
    assert (bad.status_code, bad.json()) == (400, {"error": "Malformed JSON body"})
    text = await site.post("/rooms/x/save", content=b"hi",
                           headers={**auth, "content-type": "text/plain"})  # fmt: skip
    assert text.status_code == 415
    big = await site.post("/rooms/x/save", content=b"x" * (8 * MAX_DOCUMENT_CHARS + 1),
                          headers={**auth, "content-type": "application/json"})  # fmt: skip
    assert big.status_code == 413
    assert (await site.post("/rooms/bad%20name/save", {"content": ""}, headers=auth)).json() == {
        "error": "room names are 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-', starting "
        "alphanumeric"
    }
    assert (await site.get("/rooms/x/save", headers=auth)).status_code == 405
    assert (await site.get("/rooms/x/nothing", headers=auth)).status_code == 404


async def test_who_may_read_and_save(site):
    anonymous = await site.get("/rooms/x/document")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"error": "Authentication required"}
    assert (await site.post("/rooms/x/save", {"content": "x"})).status_code == 401
    forged = {"authorization": "Bearer " + "A" * 32}
    assert (await site.get("/rooms/x/document", headers=forged)).status_code == 401
    # A browser's cookie comes along on cross-site posts: those must come from here.
    _, cookie = await site.sign_in(*ALICE)
    evil = await site.post("/rooms/x/save", {"content": "pwned"}, cookie=cookie,
                           headers={"origin": "https://evil.example"})  # fmt: skip
    assert evil.status_code == 403
    mine = await site.post("/rooms/x/save", {"content": "mine"}, cookie=cookie,
                           headers={"origin": ORIGIN})  # fmt: skip
    assert mine.status_code == 200
    assert (await site.get("/rooms/x/document", cookie=cookie)).json()["content"] == "mine"


async def test_api_keys_need_the_rooms_scopes(site):
    _, cookie = await site.sign_in(*ALICE)

    async def key(permissions):
        made = await site.post("/api/auth/api-key/create", {"permissions": permissions},
                               cookie=cookie)  # fmt: skip
        return {"x-api-key": made.json()["key"]}

    products = await key({"products": ["read"]})
    reader = await key({"rooms": ["read"]})
    writer = await key({"rooms": ["read", "write"]})
    assert (await site.get("/rooms/k/document", headers=products)).status_code == 403
    assert (await site.get("/rooms/k/document", headers=reader)).status_code == 200
    denied = await site.post("/rooms/k/save", {"content": "x"}, headers=reader)
    assert denied.status_code == 403
    assert denied.json() == {"error": "This API key lacks the scope 'rooms:write'"}
    assert (await site.post("/rooms/k/save", {"content": "x"}, headers=writer)).status_code == 200
