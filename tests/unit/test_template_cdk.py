"""`cdk synth` output: functions, layers and image functions whose code is a local asset of cdk.out
(Metadata aws:asset:path), their S3 and ECR locations (and CDK v1's AssetParameters) never resolved."""

import json
from pathlib import Path

from lambda_emu.config import EmulatorConfig
from lambda_emu.template import load_template

FUNCTION_HASH = "4f1b2c3d" * 8
LAYER_HASH = "9a8b7c6d" * 8
IMAGE_HASH = "1e2f3a4b" * 8


def synth(cdk_out: Path) -> Path:
    """A template as `cdk synth` writes it (CDK v2 assets, and one CDK v1 function), with its assets."""
    for asset in (FUNCTION_HASH, LAYER_HASH, IMAGE_HASH, "v1asset"):
        (cdk_out / f"asset.{asset}").mkdir(parents=True)
    (cdk_out / f"asset.{FUNCTION_HASH}" / "index.py").write_text("def handler(e, c):\n    return 1\n")
    (cdk_out / f"asset.{IMAGE_HASH}" / "docker").mkdir()
    (cdk_out / f"asset.{IMAGE_HASH}" / "docker" / "Dockerfile.lambda").write_text("FROM scratch\n")
    bucket = {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
    template = {
        "Parameters": {
            "BootstrapVersion": {
                "Type": "AWS::SSM::Parameter::Value<String>",
                "Default": "/cdk-bootstrap/hnb659fds/version",
            },
            "AssetParametersV1S3Bucket": {"Type": "String"},
            "AssetParametersV1S3VersionKey": {"Type": "String"},
        },
        "Resources": {
            "Deps1A2B3C": {
                "Type": "AWS::Lambda::LayerVersion",
                "Properties": {"Content": {"S3Bucket": bucket, "S3Key": f"{LAYER_HASH}.zip"}},
                "Metadata": {"aws:asset:path": f"asset.{LAYER_HASH}", "aws:asset:property": "Content"},
            },
            "HandlerFn5E6F": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {"S3Bucket": bucket, "S3Key": f"{FUNCTION_HASH}.zip"},
                    "Handler": "index.handler",
                    "Runtime": "python3.13",
                    "Role": {"Fn::GetAtt": ["HandlerFnServiceRole", "Arn"]},
                    "Layers": [{"Ref": "Deps1A2B3C"}],
                },
                "DependsOn": ["HandlerFnServiceRole"],
                "Metadata": {
                    "aws:cdk:path": "Stack/HandlerFn/Resource",
                    "aws:asset:path": f"asset.{FUNCTION_HASH}",
                    "aws:asset:is-bundled": False,
                    "aws:asset:property": "Code",
                },
            },
            "V1Fn": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {
                        "S3Bucket": {"Ref": "AssetParametersV1S3Bucket"},
                        "S3Key": {"Fn::Join": ["", [{"Ref": "AssetParametersV1S3VersionKey"}]]},
                    },
                    "Handler": "index.handler",
                    "Runtime": "nodejs20.x",
                },
                "Metadata": {"aws:asset:path": "asset.v1asset", "aws:asset:property": "Code"},
            },
            "ImageFnA1B2": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Code": {
                        "ImageUri": {
                            "Fn::Sub": "${AWS::AccountId}.dkr.ecr.${AWS::Region}.${AWS::URLSuffix}/"
                            f"cdk-hnb659fds-container-assets-${{AWS::AccountId}}-${{AWS::Region}}:{IMAGE_HASH}"
                        }
                    },
                    "PackageType": "Image",
                },
                "Metadata": {
                    "aws:asset:path": f"asset.{IMAGE_HASH}",
                    "aws:asset:dockerfile-path": "docker/Dockerfile.lambda",
                    "aws:asset:docker-build-args": {"STAGE": "dev"},
                    "aws:asset:property": "Code.ImageUri",
                },
            },
            "HandlerFnServiceRole": {"Type": "AWS::IAM::Role", "Properties": {}},
            "CDKMetadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2:deflate64:H4s"}},
        },
    }
    path = cdk_out / "Stack.template.json"
    path.write_text(json.dumps(template, indent=1))
    return path


def load(tmp_path: Path):
    return load_template(synth(tmp_path / "cdk.out"), emulator=EmulatorConfig(state_dir=tmp_path / "state"))


def test_a_cdk_function_runs_its_local_asset_with_its_layer_asset(tmp_path):
    loaded = load(tmp_path)
    function = loaded.function("HandlerFn5E6F")
    assert function.code_path == (tmp_path / "cdk.out" / f"asset.{FUNCTION_HASH}").resolve()
    assert function.layers == ((tmp_path / "cdk.out" / f"asset.{LAYER_HASH}").resolve(),)
    assert loaded.broken == {}


def test_a_cdk_v1_function_loads_though_its_asset_parameters_have_no_value(tmp_path):
    function = load(tmp_path).function("V1Fn")
    assert function.code_path == (tmp_path / "cdk.out" / "asset.v1asset").resolve()
    assert function.runtime == "nodejs20.x"


def test_a_cdk_image_function_is_built_from_its_asset_not_pulled_from_ecr(tmp_path):
    function = load(tmp_path).function("ImageFnA1B2")
    assert function.image_uri == "imagefna1b2:latest"
    recipe = function.recipe  # type: ignore[attr-defined]
    assert recipe.context_dir == (tmp_path / "cdk.out" / f"asset.{IMAGE_HASH}").resolve()
    assert (recipe.dockerfile, dict(recipe.build_args)) == ("docker/Dockerfile.lambda", {"STAGE": "dev"})


def test_a_missing_asset_folder_breaks_only_its_function_and_says_to_synth_again(tmp_path):
    path = synth(tmp_path / "cdk.out")
    (tmp_path / "cdk.out" / f"asset.{FUNCTION_HASH}" / "index.py").unlink()
    (tmp_path / "cdk.out" / f"asset.{FUNCTION_HASH}").rmdir()
    loaded = load_template(path, emulator=EmulatorConfig(state_dir=tmp_path / "state"))
    assert "V1Fn" in loaded.functions
    problem = loaded.broken["HandlerFn5E6F"].error
    assert (
        "property Code (Metadata aws:asset:path):" in problem.message and "does not exist" in problem.message
    )


def test_sam_metadata_asset_path_stands_in_for_code_uri(tmp_path):
    (tmp_path / "built" / "fn").mkdir(parents=True)
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: s3://bucket/fn.zip, Handler: app.handler, Runtime: python3.13}\n"
        "    Metadata: {aws:asset:path: built/fn, aws:asset:property: CodeUri}\n"
    )
    loaded = load_template(tmp_path / "template.yaml", emulator=EmulatorConfig(state_dir=tmp_path / "s"))
    assert loaded.function("Fn").code_path == (tmp_path / "built" / "fn").resolve()
