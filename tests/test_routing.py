"""Route patterns: wrangler's glob form, host parts, and most-specific-wins."""

from bindings.routing import Router


def test_most_specific_route_wins():
    router = Router([("/*", "catchall"), ("/products*", "api"), ("/products/special", "special")])
    assert router.match(None, "/products/special") == "special"
    assert router.match(None, "/products/1") == "api"
    assert router.match(None, "/products") == "api"
    assert router.match(None, "/cart") == "catchall"


def test_no_match_is_none():
    assert Router([("/a*", 1)]).match(None, "/b") is None


def test_host_patterns_ignore_port_and_beat_hostless():
    router = Router([("/*", "any"), ("api.example.com/*", "api"), ("*.example.com/v1/*", "v1")])
    assert router.match("api.example.com:8787", "/x") == "api"
    assert router.match("shop.example.com", "/v1/items") == "v1"
    assert router.match("other.test", "/v1/items") == "any"
    assert router.match("[::1]:8787", "/") == "any"


def test_inner_wildcards_and_config_order_ties():
    router = Router([("/a/*/c", "first"), ("/a/*/c", "second")])
    assert router.match(None, "/a/b/c") == "first"
    assert router.match(None, "/a/b/d") is None
