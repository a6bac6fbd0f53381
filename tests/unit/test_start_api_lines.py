"""What `start-api` prints: one line per request, and the routes it serves."""

from lambda_emu.cli.start_api import request_line, route_lines
from lambda_emu.gateway.front import RequestRecord
from lambda_emu.template.apis import HTTP, TemplateApi, TemplateRoute


def test_a_request_line_names_method_path_function_status_and_duration() -> None:
    line = request_line(RequestRecord("GET", "/items/7?x=1", "Items", 200, 12.34))
    assert line == "GET /items/7?x=1 -> Items 200 (12.3 ms)"
    assert request_line(RequestRecord("GET", "/x", None, 404, 0.2, "no route")) == "GET /x -> - 404 (0.2 ms)"
    failed = request_line(RequestRecord("GET", "/b", "Boom", 502, 5.0, "the function failed: Exception"))
    assert failed.endswith("502 (5.0 ms): the function failed: Exception")


def test_route_lines_list_every_route_with_its_function() -> None:
    routes = (
        TemplateRoute("GET", "/a", "A", "2.0", 30_000, "A.E"),
        TemplateRoute("ANY", "$default", "B", "2.0", 30_000, "B.E", "Jwt"),
    )
    lines = route_lines((TemplateApi("ServerlessHttpApi", HTTP, "$default", routes),))
    assert lines == [
        "  GET     /a        -> A (HTTP API ServerlessHttpApi, payload 2.0)",
        "  ANY     $default  -> B (HTTP API ServerlessHttpApi, payload 2.0, authorizer Jwt)",
    ]
