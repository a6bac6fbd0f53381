"""SAM's Api and HttpApi events read from a template: routes per API, payload versions, $default routes,
explicit APIs with their stage, variables, binary media types and CORS, Globals, and clear errors."""

import textwrap
from pathlib import Path

import pytest

from lambda_emu.config import EmulatorConfig
from lambda_emu.errors import TemplateError
from lambda_emu.template import load_template
from lambda_emu.template.apis import HTTP, REST, Cors


def load(tmp_path: Path, text: str):
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(text))
    config = EmulatorConfig(region="eu-west-1", account_id="111122223333", state_dir=tmp_path / "state")
    return load_template(path, emulator=config)


FUNCTION = """
  {lid}:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src
      Handler: app.handler
      Runtime: python3.11
      Events:
{events}
"""


def template(functions: dict[str, str], extra: str = "", globals_: str = "") -> str:
    body = "".join(
        FUNCTION.format(lid=lid, events=textwrap.indent(textwrap.dedent(ev), " " * 8))
        for lid, ev in functions.items()
    )
    return f"Transform: AWS::Serverless-2016-10-31\n{globals_}Resources:{body}{extra}"


def test_api_and_http_api_events_become_routes_of_the_implicit_apis(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        template(
            {
                "Items": """
                Get: {Type: Api, Properties: {Path: '/items/{id}', Method: get}}
                Any: {Type: Api, Properties: {Path: '/{proxy+}', Method: any}}
                Sqs: {Type: SQS, Properties: {Queue: arn:aws:sqs:eu-west-1:111122223333:q}}
                """,
                "Users": """
                List: {Type: HttpApi, Properties: {Path: /users, Method: GET}}
                Old:
                  Type: HttpApi
                  Properties: {Path: /old, Method: POST, PayloadFormatVersion: "1.0", TimeoutInMillis: 5000}
                Rest: {Type: HttpApi}
                """,
            }
        ),
    )
    rest, http = loaded.apis
    assert (rest.name, rest.kind, rest.stage) == ("ServerlessRestApi", REST, "Prod")
    assert [(r.method, r.path, r.function, r.payload_version, r.timeout_ms) for r in rest.routes] == [
        ("GET", "/items/{id}", "Items", "1.0", 29_000),
        ("ANY", "/{proxy+}", "Items", "1.0", 29_000),
    ]
    assert (http.name, http.kind, http.stage) == ("ServerlessHttpApi", HTTP, "$default")
    assert [(r.method, r.path, r.payload_version, r.timeout_ms, r.event) for r in http.routes] == [
        ("GET", "/users", "2.0", 30_000, "Users.List"),
        ("POST", "/old", "1.0", 5000, "Users.Old"),
        ("ANY", "$default", "2.0", 30_000, "Users.Rest"),
    ]


def test_an_explicit_api_brings_its_stage_variables_binary_types_and_cors(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        template(
            {
                "Fn": """
                A: {Type: Api, Properties: {Path: /a, Method: GET, RestApiId: {Ref: MyApi}}}
                B: {Type: HttpApi, Properties: {Path: /b, Method: GET, ApiId: {Ref: MyHttp}}}
                """
            },
            extra="""
  MyApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: dev
      Variables: {Color: blue}
      BinaryMediaTypes: ["image~1png"]
      Cors: {AllowOrigin: "'https://example.com'", AllowHeaders: "'Content-Type,X-Key'", MaxAge: "'600'"}
  MyHttp:
    Type: AWS::Serverless::HttpApi
    Properties:
      StageName: v1
      StageVariables: {Mode: fast}
      CorsConfiguration: {AllowOrigins: ["*"], AllowMethods: [GET], ExposeHeaders: [X-Id], MaxAge: 60}
""",
            globals_="Globals:\n  Api:\n    BinaryMediaTypes: ['application~1octet-stream']\n",
        ),
    )
    rest, http = loaded.apis
    assert (rest.name, rest.stage, dict(rest.stage_variables)) == ("MyApi", "dev", {"Color": "blue"})
    assert rest.binary_media_types == ("image/png",)  # the API's own list wins over Globals'
    assert rest.cors == Cors(
        allow_origins=("https://example.com",),
        allow_headers=("Content-Type", "X-Key"),
        max_age=600,
    )
    assert (http.name, http.stage, dict(http.stage_variables)) == ("MyHttp", "v1", {"Mode": "fast"})
    assert http.cors == Cors(
        allow_origins=("*",), allow_methods=("GET",), expose_headers=("X-Id",), max_age=60
    )


def test_globals_api_applies_to_the_implicit_api(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        template(
            {"Fn": "A: {Type: Api, Properties: {Path: /a, Method: GET}}"},
            globals_="Globals:\n  Api:\n    Cors: \"'*'\"\n    BinaryMediaTypes: ['*~1*']\n",
        ),
    )
    (rest,) = loaded.apis
    assert rest.binary_media_types == ("*/*",)
    assert rest.cors is not None and rest.cors.allow_origins == ("*",)


@pytest.mark.parametrize(
    ("events", "message"),
    [
        ("A: {Type: Api, Properties: {Method: GET}}", "Events.A.Path"),
        ("A: {Type: Api, Properties: {Path: /a, Method: FETCH}}", "Events.A.Method"),
        ("A: {Type: Api, Properties: {Path: '/a/{proxy+}/b', Method: GET}}", "greedy"),
        ("A: {Type: Api, Properties: {Path: '/a/x{id}', Method: GET}}", "whole segment"),
        (
            "A: {Type: HttpApi, Properties: {Path: /a, Method: GET, PayloadFormatVersion: '3.0'}}",
            "1.0 or 2.0",
        ),
        ("A: {Type: Api, Properties: {Path: /a, Method: GET, TimeoutInMillis: 60000}}", "50 to 29000"),
        ("A: {Type: Api, Properties: {Path: /a, Method: GET, RestApiId: {Ref: Nope}}}", "lacks"),
    ],
)
def test_a_bad_event_is_named_in_the_error(tmp_path: Path, events: str, message: str) -> None:
    # The functions still load (invoke and serve do not need the APIs); start-api raises the error.
    loaded = load(tmp_path, template({"Fn": events}))
    assert list(loaded.functions) == ["Fn"] and loaded.apis == ()
    assert isinstance(loaded.api_error, TemplateError)
    with pytest.raises(TemplateError, match=message.replace("{", r"\{").replace("+", r"\+")):
        raise loaded.api_error


def test_a_template_without_api_events_has_no_apis(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        template({"Fn": "Q: {Type: SQS, Properties: {Queue: arn:aws:sqs:eu-west-1:111122223333:q}}"}),
    )
    assert loaded.apis == ()
