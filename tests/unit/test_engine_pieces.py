"""Pure parts of provisioning, doctor and pins (no engine needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from containerize.engine import builders, buildx, doctor
from containerize.errors import ConfigError, ProvisionError
from containerize.host import provision
from containerize.image import pins
from containerize.platforms import LINUX_AMD64


def test_mirror_from_deb822_skips_security(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.invalid/security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\n# a comment: with a colon\nURIs: http://mirror.invalid/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert provision.debian_mirror(tmp_path) == "http://mirror.invalid/debian"


def test_mirror_from_one_line_sources(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [arch=amd64] http://mirror.invalid/debian bookworm main\n"
    )
    assert provision.debian_mirror(tmp_path) == "http://mirror.invalid/debian"


def test_no_mirror_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "sources.list.d").mkdir()
    with pytest.raises(ProvisionError, match="cannot find a Debian mirror"):
        provision.debian_mirror(tmp_path)


INSPECT = """\
Name:          default
Driver:        docker
Last Activity: 2026-11-21 10:10:15 +0000 UTC

Nodes:
Name:      default
Endpoint:  default
Status:    running
BuildKit:  v0.13.2
Platforms: linux/amd64, linux/amd64/v2, linux/arm64*
"""


def test_parse_buildx_inspect() -> None:
    info = builders.parse_inspect(INSPECT)
    assert info.name == "default"
    assert info.driver == "docker"
    assert info.status == "running"
    assert info.platforms == ("linux/amd64", "linux/amd64/v2", "linux/arm64")


def test_parse_buildx_inspect_without_a_daemon() -> None:
    # What buildx 0.13 prints, exiting 0, when DOCKER_HOST names a socket nobody serves.
    info = builders.parse_inspect(
        "Name:          default\n"
        "Driver:        \n"
        "Last Activity: 2026-12-03 21:21:33 +0000 UTC\n"
        "Error:         Cannot connect to the Docker daemon at unix:///tmp/none.sock. "
        "Is the docker daemon running?\n"
    )
    assert info.error.startswith("Cannot connect to the Docker daemon")
    assert info.platforms == ()


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("127.0.0.1:5000/team/app", "127.0.0.1:5000"),
        ("registry.example/app", "registry.example"),
        ("localhost/app", "localhost"),
        ("team/app", None),
        ("app", None),
    ],
)
def test_registry_of(image: str, registry: str | None) -> None:
    assert doctor.registry_of(image) == registry


def test_check_text_carries_the_fix() -> None:
    check = doctor.Check(name="buildx", status="fail", detail="missing", fix="install it")
    assert str(check) == "[FAIL] buildx: missing\n       fix: install it"


def test_pins_round_trip_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "containerize.lock"
    pins.write(path, "example/python:3.11", "sha256:" + "1" * 64)
    text = path.read_text()
    assert text.startswith("# Written by containerize")
    path.write_text(text + "# my own note\n")
    pins.write(path, "example/other:1", "sha256:" + "2" * 64)
    assert "# my own note" in path.read_text()
    assert pins.read(path) == {
        "example/python:3.11": "sha256:" + "1" * 64,
        "example/other:1": "sha256:" + "2" * 64,
    }
    assert pins.pinned("example/python:3.11", path) == "example/python:3.11@sha256:" + "1" * 64
    assert pins.pinned("x@sha256:" + "3" * 64, path) == "x@sha256:" + "3" * 64


def test_bad_pins_file(tmp_path: Path) -> None:
    path = tmp_path / "containerize.lock"
    path.write_text('[base-images]\n"x" = "latest"\n')
    with pytest.raises(ConfigError, match="must map image references") as info:
        pins.read(path)
    assert info.value.hint is not None
    assert "containerize pin" in info.value.hint


def test_a_single_platforms_local_export_is_moved_into_its_folder(tmp_path: Path) -> None:
    # What BuildKit 0.13 writes for one platform despite platform-split=true.
    (tmp_path / "demo-1.0-cp311-cp311-linux_x86_64.whl").write_bytes(b"wheel")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "compiled.json").write_text("{}")
    buildx.split_single_platform(tmp_path, LINUX_AMD64)
    folder = buildx.split_folder(tmp_path, LINUX_AMD64)
    assert folder == tmp_path / "linux_amd64"
    assert list(tmp_path.iterdir()) == [folder]
    assert (folder / "demo-1.0-cp311-cp311-linux_x86_64.whl").read_bytes() == b"wheel"
    assert (folder / "sub" / "compiled.json").read_text() == "{}"


def test_a_local_export_the_engine_split_is_left_as_it_is(tmp_path: Path) -> None:
    folder = buildx.split_folder(tmp_path, LINUX_AMD64)
    folder.mkdir()
    (folder / "compiled.json").write_text("{}")
    buildx.split_single_platform(tmp_path, LINUX_AMD64)
    assert list(tmp_path.iterdir()) == [folder]
    assert [p.name for p in folder.iterdir()] == ["compiled.json"]
