"""APIs a template defines other than by SAM events: SAM APIs' OpenAPI DefinitionBody / DefinitionUri,
CloudFormation's AWS::ApiGateway::RestApi (Body, or Resource and Method resources) and
AWS::ApiGatewayV2::Api (Body, quick-create Target, or Route and Integration resources), with their Stage."""

import json
import textwrap
from pathlib import Path

from lambda_emu.config import EmulatorConfig
from lambda_emu.template import load_template
from lambda_emu.template.apis import HTTP, REST

HEAD = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11, CodeUri: src, Handler: app.handler, FunctionName: items-fn}
"""
URI = "!Sub 'arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${Fn.Arn}/invocations'"


def load(tmp_path: Path, resources: str):
    (tmp_path / "src").mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent(HEAD) + textwrap.indent(textwrap.dedent(resources), "  "))
    config = EmulatorConfig(region="eu-west-1", account_id="111122223333", state_dir=tmp_path / "state")
    return load_template(path, emulator=config)


def routes(api) -> list[tuple[str, str, str, str]]:
    return [(r.method, r.path, r.function, r.payload_version) for r in api.routes]


def test_a_sam_api_s_definition_body_gives_its_routes(tmp_path: Path) -> None:
    (api,) = load(
        tmp_path,
        f"""
        Api:
          Type: AWS::Serverless::Api
          Properties:
            StageName: v1
            DefinitionBody:
              openapi: "3.0.1"
              x-amazon-apigateway-binary-media-types: [image/png]
              paths:
                /items/{{id}}:
                  get:
                    x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: POST, uri: {URI}}}
                  x-amazon-apigateway-any-method:
                    x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: POST, uri: {URI}}}
                /mocked:
                  get:
                    x-amazon-apigateway-integration: {{type: mock}}
        """,
    ).apis
    assert (api.name, api.kind, api.stage, api.binary_media_types) == ("Api", REST, "v1", ("image/png",))
    assert routes(api) == [
        ("GET", "/items/{id}", "items-fn", "1.0"),
        ("ANY", "/items/{id}", "items-fn", "1.0"),
    ]


def test_a_sam_http_api_s_definition_uri_is_read_from_its_file(tmp_path: Path) -> None:
    definition = {
        "openapi": "3.0.1",
        "paths": {
            "$default": {
                "x-amazon-apigateway-any-method": {
                    "x-amazon-apigateway-integration": {
                        "type": "aws_proxy",
                        "uri": "arn:aws:lambda:eu-west-1:111122223333:function:items-fn",
                        "payloadFormatVersion": "2.0",
                    }
                }
            }
        },
    }
    (tmp_path / "api.json").write_text(json.dumps(definition))
    (api,) = load(
        tmp_path, "Http:\n  Type: AWS::Serverless::HttpApi\n  Properties: {DefinitionUri: api.json}\n"
    ).apis
    assert (api.kind, routes(api)) == (HTTP, [("ANY", "$default", "items-fn", "2.0")])


def test_a_rest_api_s_resource_tree_and_methods_with_its_stage(tmp_path: Path) -> None:
    (api,) = load(
        tmp_path,
        f"""
        Rest:
          Type: AWS::ApiGateway::RestApi
          Properties: {{Name: rest}}
        Items:
          Type: AWS::ApiGateway::Resource
          Properties: {{RestApiId: !Ref Rest, ParentId: !GetAtt Rest.RootResourceId, PathPart: items}}
        Item:
          Type: AWS::ApiGateway::Resource
          Properties: {{RestApiId: !Ref Rest, ParentId: !Ref Items, PathPart: "{{id}}"}}
        GetItem:
          Type: AWS::ApiGateway::Method
          Properties:
            RestApiId: !Ref Rest
            ResourceId: !Ref Item
            HttpMethod: GET
            AuthorizationType: NONE
            Integration: {{Type: AWS_PROXY, IntegrationHttpMethod: POST, Uri: {URI}}}
        Stage:
          Type: AWS::ApiGateway::Stage
          Properties: {{RestApiId: !Ref Rest, StageName: live, Variables: {{Color: red}}}}
        """,
    ).apis
    assert (api.name, api.kind, api.stage, dict(api.stage_variables)) == (
        "Rest",
        REST,
        "live",
        {"Color": "red"},
    )
    assert routes(api) == [("GET", "/items/{id}", "items-fn", "1.0")]


def test_an_http_api_s_routes_and_integrations_and_a_quick_create_target(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        Http:
          Type: AWS::ApiGatewayV2::Api
          Properties: {Name: http, ProtocolType: HTTP, CorsConfiguration: {AllowOrigins: ["*"]}}
        Integration:
          Type: AWS::ApiGatewayV2::Integration
          Properties:
            ApiId: !Ref Http
            IntegrationType: AWS_PROXY
            IntegrationUri: !GetAtt Fn.Arn
            PayloadFormatVersion: "1.0"
        Route:
          Type: AWS::ApiGatewayV2::Route
          Properties:
            ApiId: !Ref Http
            RouteKey: "POST /orders/{proxy+}"
            Target: !Sub "integrations/${Integration}"
        Quick:
          Type: AWS::ApiGatewayV2::Api
          Properties: {Name: quick, ProtocolType: HTTP, Target: !GetAtt Fn.Arn}
        Socket:
          Type: AWS::ApiGatewayV2::Api
          Properties: {Name: ws, ProtocolType: WEBSOCKET}
        """,
    )
    http, quick = loaded.apis
    assert (http.name, http.stage, routes(http)) == (
        "Http",
        "$default",
        [("POST", "/orders/{proxy+}", "items-fn", "1.0")],
    )
    assert http.cors is not None and http.cors.allow_origins == ("*",)
    assert (quick.name, routes(quick)) == ("Quick", [("ANY", "$default", "items-fn", "2.0")])


def test_function_urls_from_function_url_config_and_lambda_url_resources(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        Other:
          Type: AWS::Serverless::Function
          Properties:
            Runtime: python3.11
            CodeUri: src
            Handler: app.handler
            Timeout: 20
            FunctionUrlConfig: {AuthType: NONE, Cors: {AllowOrigins: ["https://a.example"], MaxAge: 60}}
        Url:
          Type: AWS::Lambda::Url
          Properties: {TargetFunctionArn: !GetAtt Fn.Arn, AuthType: AWS_IAM, InvokeMode: RESPONSE_STREAM}
        """,
    )
    other, url = loaded.function_urls
    assert (other.name, other.kind, other.url_auth) == ("Other", "URL", "NONE")
    assert [(r.method, r.path, r.function, r.payload_version, r.timeout_ms) for r in other.routes] == [
        ("ANY", "$default", "Other", "2.0", 21_000)
    ]
    assert other.cors is not None and (other.cors.allow_origins, other.cors.max_age) == (
        ("https://a.example",),
        60,
    )
    assert (url.name, url.url_auth, url.routes[0].function) == ("Url", "AWS_IAM", "items-fn")
    assert loaded.apis == ()
