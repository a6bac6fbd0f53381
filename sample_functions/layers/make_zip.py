"""Rebuild layers/overrides.zip from layers/overrides/ (run after editing that folder). Fixed timestamps
keep the zip byte-for-byte the same for the same files, so git sees only real changes."""

import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "layers" / "overrides"


def main() -> None:
    with zipfile.ZipFile(HERE / "layers" / "overrides.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(SOURCE.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(path.relative_to(SOURCE).as_posix(), date_time=(2024, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())


if __name__ == "__main__":
    main()
