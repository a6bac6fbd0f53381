"""Layers extracted to the /opt folder, and Lambda's limits on them (no Docker)."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from lambda_emu.config import FunctionConfig
from lambda_emu.errors import ConfigError
from lambda_emu.images.function_code import unzipped_size
from lambda_emu.images.layers import MAX_UNZIPPED_BYTES, check_limits, opt_dir

SAMPLE_LAYERS = Path(__file__).resolve().parents[2] / "sample_functions" / "layers" / "layers"


def folder(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def zipped(path: Path, files: dict[str, str], modes: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (modes or {}).get(name, 0o100644) << 16
            archive.writestr(info, text)
    return path


def function(tmp_path: Path, layers: tuple[Path, ...]) -> FunctionConfig:
    code = folder(tmp_path / "code", {"app.py": "def handler(e, c): return e\n"})
    return FunctionConfig(
        name="f", runtime="python3.11", handler="app.handler", code_path=code, layers=layers
    )


def test_layers_extract_in_order_later_files_winning(tmp_path: Path) -> None:
    first = folder(tmp_path / "one", {"python/a.py": "one", "shared.txt": "one"})
    second = zipped(tmp_path / "two.zip", {"python/b.py": "two", "shared.txt": "two"})
    opt = opt_dir((first, second), tmp_path / "state")
    assert opt is not None
    assert (opt / "shared.txt").read_text() == "two"
    assert (opt / "python" / "a.py").read_text() == "one"
    assert (opt / "python" / "b.py").read_text() == "two"


def test_no_layers_mount_nothing(tmp_path: Path) -> None:
    assert opt_dir((), tmp_path / "state") is None


def test_same_layers_reuse_the_folder_and_changed_content_gets_a_new_one(tmp_path: Path) -> None:
    layer = folder(tmp_path / "layer", {"python/m.py": "v1"})
    first = opt_dir((layer,), tmp_path / "state")
    assert opt_dir((layer,), tmp_path / "state") == first
    (layer / "python" / "m.py").write_text("version 2")
    second = opt_dir((layer,), tmp_path / "state")
    assert second != first
    assert second is not None and (second / "python" / "m.py").read_text() == "version 2"


def test_zip_layer_keeps_execute_bits_and_makes_files_readable_to_the_sandbox_user(tmp_path: Path) -> None:
    layer = zipped(
        tmp_path / "l.zip",
        {"bin/tool": "#!/bin/sh\n", "secret.txt": "x"},
        {"bin/tool": 0o100700, "secret.txt": 0o100600},
    )
    opt = opt_dir((layer,), tmp_path / "state")
    assert opt is not None
    assert stat.S_IMODE((opt / "bin" / "tool").stat().st_mode) == 0o744
    assert stat.S_IMODE((opt / "secret.txt").stat().st_mode) == 0o644


def test_a_missing_layer_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does-not-exist"):
        opt_dir((tmp_path / "does-not-exist",), tmp_path / "state")


def test_a_zip_escaping_its_folder_is_refused(tmp_path: Path) -> None:
    layer = zipped(tmp_path / "evil.zip", {"../escape.txt": "x"})
    with pytest.raises(ConfigError, match="outside its folder"):
        opt_dir((layer,), tmp_path / "state")
    assert not (tmp_path / "state" / "escape.txt").exists()


def test_five_layers_are_allowed_and_six_refused(tmp_path: Path) -> None:
    layer = folder(tmp_path / "layer", {"python/m.py": "x"})
    check_limits(function(tmp_path, (layer,) * 5))
    with pytest.raises(ConfigError, match="Cannot reference more than 5 layers"):
        check_limits(function(tmp_path, (layer,) * 6))


def test_code_and_layers_together_must_stay_under_250_mb_unzipped(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    layer.mkdir()
    with (layer / "big.bin").open("wb") as stream:  # sparse: counted, not written
        stream.truncate(MAX_UNZIPPED_BYTES - 10)
    check_limits(function(tmp_path, (folder(tmp_path / "small", {"a": "x"}),)))
    with pytest.raises(ConfigError, match="Unzipped size must be smaller than 262144000 bytes"):
        check_limits(function(tmp_path, (layer,)))  # the layer fits alone; with the code it does not


def test_code_alone_over_250_mb_unzipped_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "code.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as out:
        with out.open("big.bin", "w", force_zip64=True) as stream:
            for _ in range(MAX_UNZIPPED_BYTES // (1 << 20) + 1):
                stream.write(bytes(1 << 20))
    code_only = FunctionConfig(name="f", runtime="python3.11", handler="app.handler", code_path=archive)
    with pytest.raises(ConfigError, match="Unzipped size must be smaller"):
        check_limits(code_only)


def test_unzipped_size_of_a_zip_is_the_sum_its_directory_declares(tmp_path: Path) -> None:
    archive = zipped(tmp_path / "a.zip", {"a": "x" * 10, "b/c": "y" * 5})
    assert unzipped_size(archive) == 15


def test_unzipped_size_of_a_folder_counts_files_not_links(tmp_path: Path) -> None:
    layer = folder(tmp_path / "layer", {"a": "x" * 10})
    os.symlink("a", layer / "link")
    assert unzipped_size(layer) == 10


def test_sample_zip_layer_matches_its_source_folder() -> None:
    # sample_functions/layers/make_zip.py rebuilds the zip; this catches an edit of one without the other.
    source = SAMPLE_LAYERS / "overrides"
    expected = {p.relative_to(source).as_posix(): p.read_bytes() for p in source.rglob("*") if p.is_file()}
    with zipfile.ZipFile(SAMPLE_LAYERS / "overrides.zip") as archive:
        assert {name: archive.read(name) for name in archive.namelist()} == expected
