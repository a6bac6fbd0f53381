"""Write lambda_emu/service_model.py from the installed botocore's Lambda model (service-2.json): every
operation's input shape and every shape it reaches, with the constraints AWS's request validation names
(min/max, pattern, enum, required, sensitive), where each member travels (uri, querystring, header, under
which name) and each operation's method and path.

    python tools/generate_service_model.py          # (re)write the module
    python tools/generate_service_model.py --check  # exit 1 when it is out of date

The runtime never imports botocore (aws_clients.py owns it): the generated module is plain Python data, and
tests/unit/test_service_model.py fails when it no longer matches the installed botocore (a pin upgrade
without regeneration)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

TARGET = Path(__file__).resolve().parents[1] / "lambda_emu" / "service_model.py"
COMMAND = "python tools/generate_service_model.py"
# The traits request validation reads; documentation, box, idempotencyToken and the rest are left out.
_SCALAR_TRAITS = ("min", "max", "pattern", "enum", "sensitive")


def load_model() -> tuple[str, str, dict[str, Any]]:
    """(botocore version, API version, the Lambda model) of the installed botocore."""
    import botocore
    from botocore import loaders

    loader = loaders.Loader()
    api_version = loader.determine_latest_version("lambda", "service-2")
    model = loader.load_service_model("lambda", "service-2", api_version)
    return botocore.__version__, api_version, model


def _reachable(model: Mapping[str, Any]) -> list[str]:
    """The shapes an operation's input reaches, in the model's order."""
    shapes = model["shapes"]
    seen: set[str] = set()
    todo = [op["input"]["shape"] for op in model["operations"].values() if "input" in op]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        shape = shapes[name]
        todo += [ref["shape"] for ref in shape.get("members", {}).values()]
        todo += [shape[part]["shape"] for part in ("member", "key", "value") if part in shape]
    return [name for name in shapes if name in seen]


def http_routes(model: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Operation -> (method, requestUri) as the model routes it."""
    return {
        name: (op["http"]["method"], op["http"]["requestUri"]) for name, op in model["operations"].items()
    }


def extract(model: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """(operation -> its input shape's name, shape name -> its validation data)."""
    operations = {name: op["input"]["shape"] for name, op in model["operations"].items() if "input" in op}
    shapes: dict[str, dict[str, Any]] = {}
    for name in _reachable(model):
        source = model["shapes"][name]
        shape: dict[str, Any] = {"type": source["type"]}
        for trait in _SCALAR_TRAITS:
            if trait in source:
                shape[trait] = tuple(source[trait]) if trait == "enum" else source[trait]
        for part in ("member", "key", "value"):
            if part in source:
                shape[part] = source[part]["shape"]
        if source["type"] == "structure":
            members = source.get("members", {})
            shape["required"] = tuple(source.get("required", ()))
            shape["members"] = {member: ref["shape"] for member, ref in members.items()}
            shape["locations"] = {
                member: ref["location"] for member, ref in members.items() if "location" in ref
            }
            # The names members travel under where they are not the member's own (X-Amz-Log-Type, tagKeys).
            renamed = {
                member: ref["locationName"]
                for member, ref in members.items()
                if "location" in ref and ref.get("locationName", member) != member
            }
            if renamed:
                shape["location_names"] = renamed
            if "payload" in source:  # the member that is the whole body (Invoke's Payload)
                shape["payload"] = source["payload"]
        shapes[name] = shape
    return operations, shapes


def _lines(shape: Mapping[str, Any]) -> Iterator[str]:
    for key, value in shape.items():
        if isinstance(value, dict):
            if not value:
                yield f"        {key!r}: {{}},"
                continue
            yield f"        {key!r}: {{"
            for inner, target in value.items():
                yield f"            {inner!r}: {target!r},"
            yield "        },"
        else:
            yield f"        {key!r}: {value!r},"


def render(botocore_version: str, api_version: str, model: Mapping[str, Any]) -> str:
    operations, shapes = extract(model)
    out = [
        f'"""Lambda\'s API model (lambda/{api_version}) as botocore {botocore_version} gives it:',
        "each operation's input shape and the shapes it reaches, with the constraints that request",
        "validation names.",
        "",
        f"GENERATED by tools/generate_service_model.py from botocore {botocore_version}: do not edit.",
        f'Regenerate after upgrading botocore: {COMMAND}"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        f"BOTOCORE_VERSION = {botocore_version!r}",
        f"API_VERSION = {api_version!r}",
        "",
        "# Operation -> the name of its input shape.",
        "OPERATIONS: dict[str, str] = {",
        *(f"    {name!r}: {shape!r}," for name, shape in operations.items()),
        "}",
        "",
        "# Operation -> (HTTP method, request URI: {Member} path labels, fixed query pairs after '?').",
        "HTTP: dict[str, tuple[str, str]] = {",
        *(f"    {name!r}: {route!r}," for name, route in http_routes(model).items()),
        "}",
        "",
        "# Shape name -> type, constraints (min, max, pattern, enum, sensitive), a list's member, a map's",
        "# key and value, a structure's members (member -> shape), required members, non-body locations,",
        "# the names located members travel under where not their own, the payload member.",
        "SHAPES: dict[str, dict[str, Any]] = {",
    ]
    for name, shape in shapes.items():
        out += [f"    {name!r}: {{", *_lines(shape), "    },"]
    out += ["}", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the module is out of date")
    args = parser.parse_args(argv)
    text = render(*load_model())
    if args.check:
        current = TARGET.read_text() if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is out of date: run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
