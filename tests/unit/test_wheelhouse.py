"""Per-platform selection and the wheelhouse manifests, on the real hello-wsgi lock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from containerize import config, fsutil
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.project import load as project_load
from containerize.resolve import buildlock, ownlocks, wheelhouse
from containerize.resolve.lock import load_lock
from containerize.resolve.selection import PlatformSelection
from containerize.targets import TargetEnvironment


@pytest.fixture
def hello(fixtures_dir: Path) -> config.Config:
    return config.load(fixtures_dir / "hello-wsgi", environ={})


def selections(cfg: config.Config) -> list[PlatformSelection]:
    lock = load_lock(cfg.project_dir)
    project = project_load(cfg.project_dir)
    return [
        wheelhouse.select_all(pipeline.wanted(cfg), lock, project, TargetEnvironment.from_config(p))
        for p in (LINUX_AMD64, LINUX_ARM64)
    ]


def test_each_server_gets_its_own_closure(hello: config.Config) -> None:
    amd64, arm64 = selections(hello)
    assert amd64.base.packages == ()
    assert [p.name for p in amd64.servers["gunicorn"].packages] == ["gunicorn"]
    assert [p.name for p in amd64.servers["uwsgi"].packages] == ["pyuwsgi"]
    uwsgi_arm = arm64.servers["uwsgi"].packages[0].file.filename
    assert uwsgi_arm.endswith("manylinux_2_28_aarch64.whl")
    assert [p.file.filename for p in arm64.sdists] == ["mod_wsgi-6.1.1.tar.gz"]


def test_needs_and_announcement(hello: config.Config) -> None:
    found = selections(hello)
    needs = wheelhouse.needs(found)
    assert needs.base_is_empty
    assert not needs.base_has_sdists
    assert needs.server_has_sdists == {
        "gunicorn": False,
        "uwsgi": False,
        "mod_wsgi": True,
        "cheroot": False,
    }
    lines = wheelhouse.announce_sdists(found, native="x86_64")
    assert lines == [
        "no linux/amd64 wheel for: mod-wsgi; they will be compiled for the target in the "
        "image build",
        "no linux/arm64 wheel for: mod-wsgi; they will be compiled for the target under emulation",
    ]


def test_manifests_pin_hashes(hello: config.Config, tmp_path: Path) -> None:
    amd64 = selections(hello)[0]
    pinned = (
        buildlock.PinnedFile(
            name="setuptools", version="80.0", filename="setuptools-80.0-py3-none-any.whl",  # type: ignore[arg-type]
            sha256="0" * 64,
        ),
    )  # fmt: skip
    wheelhouse._write_manifests(tmp_path, amd64, pinned, compiled={})

    def read(name: str) -> dict[str, list[dict[str, str]]]:
        data: dict[str, list[dict[str, str]]] = json.loads((tmp_path / name).read_text())
        return data

    assert read("install-gunicorn.json") == {
        "wheels": [
            {
                "name": "gunicorn",
                "version": "27.0.1",
                "file": "gunicorn-27.0.1-py3-none-any.whl",
                "sha256": "378b26b9a38adcf4592f28828233c1716acc55e833ea06bf48719782efaa0d10",
            }
        ],
        "pending": [],
    }
    assert read("install-base.json") == {"wheels": [], "pending": []}
    # The sdist is pending until its compiled wheel is known; then it is that wheel.
    (sdist,) = read("compile.json")["sdists"]
    assert sdist["file"] == "mod_wsgi-6.1.1.tar.gz"
    assert read("install-mod_wsgi.json") == {"wheels": [], "pending": [sdist]}
    assert [e["file"] for e in read("build-env.json")["wheels"]] == [
        "setuptools-80.0-py3-none-any.whl"
    ]
    built = wheelhouse.CompiledWheel(
        sdist=sdist["file"],
        sdist_sha256=sdist["sha256"],
        platform="linux-amd64",
        filename="mod_wsgi-6.1.1-cp311-cp311-linux_x86_64.whl",
        sha256="1" * 64,
    )
    wheelhouse._write_manifests(tmp_path, amd64, pinned, compiled={sdist["sha256"]: built})
    assert read("install-mod_wsgi.json")["wheels"][0]["file"] == built.filename
    assert read("install-mod_wsgi.json")["pending"] == []
    assert read("compile.json") == {"sdists": []}


def test_server_missing_from_the_lock_comes_from_containerizes_lock(
    hello: config.Config, tmp_path: Path
) -> None:
    lock_text = (hello.project_dir / "poetry.lock").read_text()
    start = lock_text.index('[[package]]\nname = "pyuwsgi"')
    end = lock_text.index("[metadata]")
    project = tmp_path / "p"
    project.mkdir()
    (project / "poetry.lock").write_text(lock_text[:start] + lock_text[end:])
    (project / "pyproject.toml").write_text((hello.project_dir / "pyproject.toml").read_text())
    cfg = config.load(project, environ={})
    lock = load_lock(project)
    found = [
        wheelhouse.select_all(
            pipeline.wanted(cfg), lock, project_load(project), TargetEnvironment.from_config(p)
        )
        for p in (LINUX_AMD64, LINUX_ARM64)
    ]
    (pyuwsgi,) = ownlocks.server_lock().find(canonicalize_name("pyuwsgi"))
    for item in found:
        assert [p.package for p in item.servers["uwsgi"].packages] == [pyuwsgi]
        assert list(item.from_server_lock) == ["uwsgi"]  # the others are pinned by the project
    assert found[1].servers["uwsgi"].packages[0].file.filename.endswith("_aarch64.whl")
    assert wheelhouse.server_lock_notices(found) == [
        f"uwsgi: pyuwsgi {pyuwsgi.version} from containerize's server lock "
        "(the project's lock does not pin it)"
    ]


def test_replacing_dir_keeps_the_old_tree_on_failure(tmp_path: Path) -> None:
    dest = tmp_path / "wheelhouse"
    with fsutil.replacing_dir(dest) as staging:
        (staging / "a").write_text("1")

    def interrupted() -> None:
        with fsutil.replacing_dir(dest) as staging:
            (staging / "b").write_text("half")
            raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        interrupted()
    assert sorted(p.name for p in dest.iterdir()) == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wheelhouse"]


def test_write_atomic_mode(tmp_path: Path) -> None:
    path = tmp_path / "containerize.lock"
    fsutil.write_atomic(path, "x\n")
    assert path.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["containerize.lock"]
