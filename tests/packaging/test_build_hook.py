"""The wheel build hook packages a complete client, or stops with a message that says why."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest
from hatchling.builders.config import BuilderConfig
from hatchling.metadata.core import ProjectMetadata

from hatch_build import PACKAGED_AS, PREBUILT_ENV, WebClientBuildHook, build_client, check_client


def client_build(root: Path, *, compressed: bool = True) -> Path:
    dist = root / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html>")
    (dist / "assets" / "index-abc.js").write_text("console.log(1)")
    if compressed:
        (dist / "assets" / "index-abc.js.br").write_bytes(b"br")
    return dist


def hook(root: Path, target: str) -> WebClientBuildHook:
    return WebClientBuildHook(
        str(root),
        {},
        cast(BuilderConfig, None),
        cast(ProjectMetadata[Any], None),
        str(root / "out"),
        target,
    )


def test_a_prebuilt_client_is_packaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = client_build(tmp_path)
    monkeypatch.setenv(PREBUILT_ENV, str(dist))
    build_data: dict[str, Any] = {"force_include": {}}
    hook(tmp_path, "wheel").initialize("standard", build_data)
    assert build_data["force_include"] == {str(dist.resolve()): PACKAGED_AS}


def test_editable_installs_and_sdists_package_no_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PREBUILT_ENV, str(tmp_path / "nothing"))
    for target, version in (("wheel", "editable"), ("sdist", "standard")):
        build_data: dict[str, Any] = {"force_include": {}}
        hook(tmp_path, target).initialize(version, build_data)
        assert build_data["force_include"] == {}


def test_without_npm_the_build_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hatch_build.shutil.which", lambda _name: None)
    with pytest.raises(RuntimeError, match=r"needs npm.*PIGEON_WEB_DIST"):
        build_client(Path("web"))


def test_a_missing_or_uncompressed_client_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"index\.html is missing"):
        check_client(tmp_path / "nowhere")
    with pytest.raises(RuntimeError, match=r"no precompressed assets"):
        check_client(client_build(tmp_path, compressed=False))
