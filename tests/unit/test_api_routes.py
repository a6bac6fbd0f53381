"""The route table: management paths without a function name or with more parts reach their routes with
every path group unquoted; Invoke is still the first route tried."""

from __future__ import annotations

from lambda_emu import wire
from lambda_emu.api.http import _ROUTES, _find_route
from lambda_emu.api.routes import path


def test_a_path_template_matches_one_segment_per_group() -> None:
    pattern = path("/2015-03-31/functions/{name}/aliases/{alias}")
    match = pattern.match("/2015-03-31/functions/fn/aliases/live")
    assert match is not None and match.groupdict() == {"name": "fn", "alias": "live"}
    assert pattern.match("/2015-03-31/functions/fn/aliases/live/extra") is None
    assert pattern.match("/2015-03-31/functions/fn/aliases/") is None


def test_management_paths_reach_routes_with_their_groups_unquoted() -> None:
    found = _find_route("GET", "/2015-03-31/functions/my-fn%3A1/aliases/live")
    assert found is not None and dict(found[1]) == {"name": "my-fn:1", "alias": "live"}
    for method, url_path in (
        ("GET", "/2015-03-31/functions/"),
        ("POST", "/2015-03-31/functions"),
        ("GET", "/2015-03-31/functions/fn"),
        ("PUT", "/2015-03-31/functions/fn/configuration"),
        ("POST", "/2015-03-31/functions/fn/versions"),
        ("DELETE", "/2015-03-31/functions/fn/aliases/live"),
    ):
        assert _find_route(method, url_path) is not None, (method, url_path)
    assert _find_route("PATCH", "/2015-03-31/functions/fn") is None


def test_invoke_is_the_first_route_tried() -> None:
    verb, pattern, _route = _ROUTES[0]
    assert verb == "POST" and pattern.match(wire.INVOKE_PATH.format(name="fn"))


def test_tag_and_account_paths_reach_their_routes_with_the_arn_unquoted() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:fn"
    for method in ("GET", "POST", "DELETE"):
        found = _find_route(method, "/2017-03-31/tags/" + arn.replace(":", "%3A"))
        assert found is not None and dict(found[1]) == {"arn": arn}, method
    assert _find_route("GET", "/2016-08-19/account-settings") is not None
    assert _find_route("GET", "/2016-08-19/account-settings/") is not None
