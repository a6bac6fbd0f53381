"""Layers in real containers: sample_functions/layers/ (a folder layer and a zip layer) mounted at /opt."""

from __future__ import annotations

import dataclasses
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from invocations import answer, invoke

from lambda_emu.config import EmulatorConfig, FunctionConfig
from lambda_emu.containers.docker import DockerBackend
from lambda_emu.containers.images import DockerImages
from lambda_emu.errors import ConfigError
from lambda_emu.facade import Emulator
from lambda_emu.images.layers import MAX_UNZIPPED_BYTES
from lambda_emu.images.runtimes import ImageBuilder
from lambda_emu.template import load_template

SAMPLE = Path(__file__).resolve().parents[2] / "sample_functions" / "layers"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> EmulatorConfig:
    return EmulatorConfig(state_dir=tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def layered(config: EmulatorConfig) -> FunctionConfig:
    return load_template(SAMPLE / "template.yaml", emulator=config).functions["LayeredFunction"]


@pytest.fixture(scope="module")
def emu(config: EmulatorConfig) -> Iterator[Emulator]:
    with Emulator(config, backend=DockerBackend(), images=ImageBuilder(DockerImages())) as e:
        yield e


def test_function_imports_a_module_from_its_folder_layer(emu: Emulator, layered: FunctionConfig) -> None:
    assert answer(invoke(emu, layered, {"name": "Ada"}))["greeting"] == "Hello, Ada, from the common layer"


def test_later_layer_overwrites_an_earlier_layers_file_and_keeps_the_rest(
    emu: Emulator, layered: FunctionConfig
) -> None:
    seen = answer(invoke(emu, layered, {}))
    assert seen["overlap"] == "overrides: the second layer's copy wins"
    assert seen["only_in_common"] is True


def test_layer_order_reversed_lets_the_folder_layer_win(emu: Emulator, layered: FunctionConfig) -> None:
    reversed_layers = dataclasses.replace(layered, layers=tuple(reversed(layered.layers)))
    assert answer(invoke(emu, reversed_layers, {}))["overlap"] == "common: the first layer's copy"


def test_python_path_puts_code_then_layer_site_packages_then_layer_python(
    emu: Emulator, layered: FunctionConfig
) -> None:
    seen = answer(invoke(emu, layered, {}))
    assert seen["sys_path_head"] == [
        "/var/task",
        "/opt/python/lib/python3.11/site-packages",
        "/opt/python",
        "/var/runtime",
    ]
    # which_copy.py is in both layers, at different depths: site-packages comes first on the path.
    assert seen["which_copy"] == "/opt/python/lib/python3.11/site-packages (overrides layer)"


def test_layer_bin_is_on_the_path(emu: Emulator, layered: FunctionConfig) -> None:
    assert answer(invoke(emu, layered, {}))["tool"] == "/opt/bin/layer-tool"


def test_node_function_requires_a_package_from_its_layer(emu: Emulator, config: EmulatorConfig) -> None:
    node = load_template(SAMPLE / "template.yaml", emulator=config).functions["NodeLayeredFunction"]
    seen = answer(invoke(emu, node, {"name": "Grace"}))
    assert seen["greeting"] == "Hello, Grace, from the common layer (Node.js)"
    assert seen["resolved"] == "/opt/nodejs/node_modules/greeting/index.js"
    assert seen["overlap"] == "overrides: the second layer's copy wins"


def test_opt_is_read_only(emu: Emulator, layered: FunctionConfig) -> None:
    seen = answer(invoke(emu, layered, {"action": "write_opt"}))
    assert seen["written"] is False
    assert seen["errno"] == 30  # EROFS: the mount, not the file's permissions, refuses


def test_six_layers_are_refused_with_lambdas_limit(emu: Emulator, layered: FunctionConfig) -> None:
    six = dataclasses.replace(layered, layers=layered.layers * 3)
    with pytest.raises(ConfigError, match="Cannot reference more than 5 layers"):
        invoke(emu, six, {})


def test_code_and_layers_over_250_mb_unzipped_are_refused(
    emu: Emulator, layered: FunctionConfig, tmp_path: Path
) -> None:
    # A sparse file: its size counts, yet it takes no disk and no time to write.
    big = tmp_path / "big-layer"
    (big / "python").mkdir(parents=True)
    with (big / "python" / "data.bin").open("wb") as stream:
        stream.truncate(MAX_UNZIPPED_BYTES - 1000)
    oversized = dataclasses.replace(layered, layers=(*layered.layers, big))
    with pytest.raises(ConfigError, match=f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"):
        invoke(emu, oversized, {})


def test_a_zip_layer_over_the_limit_is_refused_from_its_headers_before_extraction(
    emu: Emulator, layered: FunctionConfig, tmp_path: Path, config: EmulatorConfig
) -> None:
    # The declared sizes in the zip's directory are what Lambda's limit measures; nothing is extracted.
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        entry = zipfile.ZipInfo("python/zeros.bin")
        entry.compress_type = zipfile.ZIP_DEFLATED
        with out.open(entry, "w", force_zip64=True) as stream:
            chunk = bytes(1 << 20)
            for _ in range(MAX_UNZIPPED_BYTES // len(chunk) + 1):
                stream.write(chunk)
    assert archive.stat().st_size < 1 << 20
    extracted = config.state_dir / "layers"
    layers_before = set(os.listdir(extracted)) if extracted.exists() else set()
    with pytest.raises(ConfigError, match="Unzipped size must be smaller"):
        invoke(emu, dataclasses.replace(layered, layers=(archive,)), {})
    assert (set(os.listdir(extracted)) if extracted.exists() else set()) == layers_before
