"""The route table: API Gateway's choice of route (literal beats variable beats greedy, a method beats ANY,
REST picks the resource before the method, HTTP APIs fall back to $default)."""

from lambda_emu.gateway.routes import RouteTable
from lambda_emu.template.apis import HTTP, REST, TemplateApi, TemplateRoute


def api(kind: str, *routes: tuple[str, str, str], name: str = "Api") -> TemplateApi:
    version = "1.0" if kind == REST else "2.0"
    return TemplateApi(
        name,
        kind,
        "Prod" if kind == REST else "$default",
        tuple(TemplateRoute(m, p, f, version, 29_000, f"{f}.Event") for m, p, f in routes),
    )


def served_by(table: RouteTable, method: str, path: str) -> str | None:
    found = table.match(method, path)
    return found.route.function if found else None


def test_a_literal_path_beats_a_variable_which_beats_a_greedy_one() -> None:
    for kind in (REST, HTTP):
        table = RouteTable(
            [
                api(
                    kind,
                    ("GET", "/{proxy+}", "greedy"),
                    ("GET", "/items/{id}", "var"),
                    ("GET", "/items/new", "lit"),
                )
            ]
        )
        assert served_by(table, "GET", "/items/new") == "lit"
        assert served_by(table, "GET", "/items/42") == "var"
        assert served_by(table, "GET", "/items/42/parts") == "greedy"
        assert served_by(table, "GET", "/other") == "greedy"


def test_path_parameters_are_decoded_and_a_greedy_one_takes_the_rest() -> None:
    table = RouteTable([api(HTTP, ("GET", "/files/{key+}", "f"), ("GET", "/users/{name}", "u"))])
    found = table.match("GET", "/files/a/b%20c/d.txt")
    assert found is not None and found.path_parameters == {"key": "a/b c/d.txt"}
    found = table.match("GET", "/users/j%C3%B6rg")
    assert found is not None and found.path_parameters == {"name": "jörg"}
    assert found.route_key == "GET /users/{name}"


def test_a_greedy_variable_does_not_match_the_root() -> None:
    table = RouteTable([api(REST, ("ANY", "/{proxy+}", "greedy"))])
    assert served_by(table, "GET", "/") is None
    assert served_by(table, "GET", "/x") == "greedy"


def test_a_method_of_its_own_beats_any() -> None:
    for kind in (REST, HTTP):
        table = RouteTable([api(kind, ("ANY", "/items", "any"), ("POST", "/items", "post"))])
        assert served_by(table, "POST", "/items") == "post"
        assert served_by(table, "DELETE", "/items") == "any"
        assert served_by(table, "get", "/items") == "any"


def test_rest_picks_the_resource_before_the_method() -> None:
    # The most specific resource, /items/{id}, has no DELETE: REST answers no route (403), it does not fall
    # back to /{proxy+}; an HTTP API takes the less specific route whose method fits.
    routes = (("ANY", "/{proxy+}", "greedy"), ("GET", "/items/{id}", "get"))
    assert served_by(RouteTable([api(REST, *routes)]), "DELETE", "/items/1") is None
    assert served_by(RouteTable([api(HTTP, *routes)]), "DELETE", "/items/1") == "greedy"


def test_the_default_route_takes_what_no_route_matches() -> None:
    table = RouteTable([api(HTTP, ("ANY", "$default", "fallback"), ("GET", "/pets", "pets"))])
    assert served_by(table, "GET", "/pets") == "pets"
    assert served_by(table, "POST", "/pets") == "fallback"
    found = table.match("GET", "/anything/else")
    assert found is not None and found.route_key == "$default" and found.path_parameters == {}


def test_trailing_slashes_and_empty_segments_do_not_count() -> None:
    table = RouteTable([api(REST, ("GET", "/", "root"), ("GET", "/a/b", "ab"))])
    assert served_by(table, "GET", "/") == "root"
    assert served_by(table, "GET", "/a/b/") == "ab"
    assert served_by(table, "GET", "/a") is None


def test_the_unmatched_answer_is_rest_s_unless_every_api_is_an_http_api() -> None:
    assert RouteTable([api(HTTP, ("GET", "/a", "a"))]).kind == HTTP
    assert RouteTable([api(REST, ("GET", "/a", "a")), api(HTTP, ("GET", "/b", "b"))]).kind == REST
    assert RouteTable([]).kind == REST


def test_a_request_goes_to_the_most_specific_route_of_any_api() -> None:
    table = RouteTable(
        [api(REST, ("GET", "/{proxy+}", "rest")), api(HTTP, ("GET", "/h/{id}", "http"), name="H")]
    )
    assert served_by(table, "GET", "/h/1") == "http"
    assert served_by(table, "GET", "/r/1") == "rest"


def test_methods_lists_what_routes_of_a_path_take() -> None:
    table = RouteTable(
        [api(HTTP, ("GET", "/a/{id}", "g"), ("PUT", "/a/{id}", "p"), ("ANY", "$default", "d"))]
    )
    assert sorted(table.methods("/a/1")) == ["GET", "PUT"]
    assert table.methods("/b") == []
