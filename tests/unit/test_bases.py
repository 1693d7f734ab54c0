"""The base images containerize knows: Debian suites by Python, their recipes, and the
errors that name a fitting base (no engine needed)."""

from __future__ import annotations

import fcntl
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet

from containerize import bases, cli, config, process
from containerize.errors import ConfigError, ResolutionError
from containerize.host import baseimage
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.resolve.cache import Cache

BOOKWORM_REF = "127.0.0.1:5000/containerize/python:3.11-bookworm"
TRIXIE_REF = "127.0.0.1:5000/containerize/python:3.13-trixie"


def test_each_suite_ships_one_python() -> None:
    table = {s.name: (s.release, s.python_text, s.libc) for s in bases.SUITES}
    assert table == {"bookworm": (12, "3.11", "glibc-2.36"), "trixie": (13, "3.13", "glibc-2.41")}
    assert bases.DEFAULT_SUITE.name == "bookworm"
    assert [s.local_ref for s in bases.SUITES] == [BOOKWORM_REF, TRIXIE_REF]
    assert [s.build_command for s in bases.SUITES] == [
        "containerize base-image",
        "containerize base-image --python 3.13",
    ]


@pytest.mark.parametrize(
    ("suite", "python", "expected"),
    [
        (None, None, "bookworm"),
        ("trixie", None, "trixie"),
        (None, "3.13", "trixie"),
        (None, " 3.11 ", "bookworm"),
        ("trixie", "3.13", "trixie"),
    ],
)
def test_choose_a_suite(suite: str | None, python: str | None, expected: str) -> None:
    assert bases.choose(suite=suite, python=python).name == expected


@pytest.mark.parametrize(
    ("suite", "python", "message", "hint"),
    [
        (
            "trixi",
            None,
            "unknown Debian suite 'trixi' (did you mean 'trixie'?); containerize builds base "
            "images from: bookworm (Python 3.11), trixie (Python 3.13)",
            "choose one of those with --suite, or a Python with --python",
        ),
        (
            None,
            "3.12",
            "no Debian suite containerize builds base images from ships Python 3.12; "
            "known: bookworm (Python 3.11), trixie (Python 3.13)",
            "set base-image to python:3.12-slim-bookworm or python:3.12-slim-trixie where "
            "that registry can be reached, or choose one of the Pythons above",
        ),
        (None, "3.9", "ships Python 3.9", "choose one of the Pythons above"),
        (None, "313", "--python '313' is not a Python version", "for example '--python 3.13'"),
        ("bookworm", "3.13", "--suite bookworm has Python 3.11, not 3.13", "give one of"),
    ],
)
def test_unknown_suites_and_pythons_are_named(
    suite: str | None, python: str | None, message: str, hint: str
) -> None:
    with pytest.raises(ConfigError) as info:
        bases.choose(suite=suite, python=python)
    assert message in info.value.message
    assert info.value.hint is not None
    assert hint in info.value.hint


def test_cli_refuses_an_unknown_python(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["base-image", "--python", "3.12"]) == 2
    err = capsys.readouterr().err
    assert "no Debian suite containerize builds base images from ships Python 3.12" in err
    assert "python:3.12-slim-trixie" in err


def test_recipe_per_suite() -> None:
    bookworm = baseimage.Recipe.for_suite(bases.by_name("bookworm"))
    trixie = baseimage.Recipe.for_suite(bases.by_name("trixie"))
    assert bookworm == baseimage.Recipe()
    assert (trixie.ref, trixie.suite) == (TRIXIE_REF, "trixie")
    assert trixie.keyed_ref == f"{TRIXIE_REF}-{trixie.key}"
    assert trixie.key != bookworm.key
    # Where an image is pushed does not change what is built, so not the key.
    moved = baseimage.Recipe(repository="registry.invalid/python", tag="x", suite="trixie")
    assert moved.key == trixie.key


def test_default_recipe_key_is_unchanged() -> None:
    """The key names every cached root file system and the keyed tag in the registry:
    a change rebuilds them all (several minutes for arm64), so it must be deliberate
    (bump _RECIPE_VERSION and update this value)."""
    assert baseimage.Recipe().key == "bf6b7ee9cea4"


def test_mmdebstrap_takes_the_suite_from_the_recipe_and_the_mirror_from_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[list[str], dict[str, str] | None]] = []

    def run(argv: Sequence[str], **kwargs: Any) -> None:
        calls.append((list(argv), kwargs.get("env")))
        Path(argv[-2]).write_bytes(b"rootfs")  # mmdebstrap's output tarball

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(baseimage, "debian_mirror", lambda: "http://mirror.invalid/debian")
    monkeypatch.setattr(process, "run", run)
    recipe = baseimage.Recipe.for_suite(bases.by_name("trixie"))
    out = baseimage._rootfs(recipe, LINUX_ARM64)
    assert out == tmp_path / "containerize" / "rootfs" / recipe.key / "rootfs-arm64.tar"
    assert out.read_bytes() == b"rootfs"
    assert calls == [
        (
            [
                "mmdebstrap",
                "--variant=minbase",
                "--arch=arm64",
                "--include=python3,python3-venv",
                "--dpkgopt=path-exclude=/usr/share/doc/*",
                "--dpkgopt=path-exclude=/usr/share/man/*",
                "--dpkgopt=path-exclude=/usr/share/locale/*",
                "--dpkgopt=path-include=/usr/share/doc/*/copyright",
                "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/*",
                "trixie",
                str(out.with_suffix(".partial.tar")),
                "http://mirror.invalid/debian",
            ],
            {"SOURCE_DATE_EPOCH": "1700000000"},
        )
    ]
    # Cached: a second call runs nothing.
    assert baseimage._rootfs(recipe, LINUX_ARM64) == out
    assert len(calls) == 1


def test_a_second_run_for_one_recipe_waits_for_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    ran: list[str] = []

    def build(recipe: baseimage.Recipe) -> str:
        ran.append(recipe.ref)
        return recipe.ref

    monkeypatch.setattr(baseimage, "_ensure", build)
    recipe = baseimage.Recipe.for_suite(bases.by_name("trixie"))
    lock_file = baseimage.cache_dir() / f"{recipe.key}.lock"
    lock_file.parent.mkdir(parents=True)
    with lock_file.open("w") as first:
        fcntl.flock(first, fcntl.LOCK_EX)  # a first run is building
        second = threading.Thread(target=baseimage.ensure, args=(recipe,))
        second.start()
        second.join(timeout=0.5)
        assert second.is_alive()
        assert ran == []
        fcntl.flock(first, fcntl.LOCK_UN)
    second.join(timeout=10)
    assert ran == [TRIXIE_REF]
    # Another recipe is not held up by it.
    assert baseimage.ensure(baseimage.Recipe()) == BOOKWORM_REF


@pytest.mark.parametrize(
    ("specifier", "local", "official"),
    [
        (
            ">=3.13",
            [TRIXIE_REF],
            ["python:3.13-slim-bookworm", "python:3.13-slim-trixie"],
        ),
        (
            ">=3.11.4",
            [BOOKWORM_REF, TRIXIE_REF],
            [f"python:3.{m}-slim-{s}" for m in (11, 12, 13) for s in ("bookworm", "trixie")],
        ),
        ("==3.12.*", [], ["python:3.12-slim-bookworm", "python:3.12-slim-trixie"]),
        ("<3", [], []),
    ],
)
def test_fitting_bases(specifier: str, local: list[str], official: list[str]) -> None:
    found = bases.fitting(SpecifierSet(specifier))
    assert [s.local_ref for s in found.local] == local
    assert list(found.official) == official


def test_fitting_hint_names_each_base_and_how_to_get_it() -> None:
    assert bases.fitting(SpecifierSet(">=3.13")).hint() == (
        "set base-image in [tool.containerize] (or CONTAINERIZE_BASE_IMAGE) to a base with "
        f"a Python that fits: {TRIXIE_REF} (built here by 'containerize base-image --python "
        "3.13'); where Docker Hub can be reached, python:3.13-slim-bookworm, "
        "python:3.13-slim-trixie; or change requires-python and re-lock"
    )
    assert bases.fitting(SpecifierSet("<3")).hint() == (
        "no base image containerize knows fits; change requires-python and re-lock"
    )


#: A machine without the engine; no test here reaches the download cache.
OFFLINE = pipeline.Machine(
    cache=Cache(root=Path("/nonexistent")), native_arch="amd64", engine=False
)


def _project(fixtures_dir: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "hello-py313"
    shutil.copytree(
        fixtures_dir / "hello-py313",
        dest,
        ignore=shutil.ignore_patterns(".containerize", "containerize.lock"),
    )
    return dest


def test_a_lock_for_313_on_a_311_base_names_the_bases_that_fit(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    """Without an engine the configured python-version stands for the base's Python;
    the integration test meets the same error from a probe of the real 3.11 image."""
    project = _project(fixtures_dir, tmp_path)
    cfg = config.load(
        project,
        overrides={"base-image": BOOKWORM_REF, "python-version": "3.11"},
        environ={},
    )
    with pytest.raises(ResolutionError) as info:
        pipeline.resolve(cfg, OFFLINE)
    assert info.value.message == (
        f"uv.lock is locked for Python >=3.13, but the base image {BOOKWORM_REF} has "
        f"Python 3.11.0 ({LINUX_AMD64})"
    )
    assert info.value.hint == bases.fitting(SpecifierSet(">=3.13")).hint()
    assert not (project / ".containerize").exists()


def test_a_lock_for_313_on_the_trixie_base_resolves(fixtures_dir: Path, tmp_path: Path) -> None:
    cfg = config.load(_project(fixtures_dir, tmp_path), environ={})
    resolved = pipeline.resolve(cfg, OFFLINE)
    assert [t.python_version for t in resolved.targets] == [(3, 13), (3, 13)]
    for selection in resolved.selections:
        files = {str(p.name): p.file.filename for p in selection.all_packages}
        machine = selection.target.platform.machine
        assert files["gunicorn"] == "gunicorn-27.0.1-py3-none-any.whl"  # the project's pin
        assert files["markupsafe"].startswith("markupsafe-3.0.4-cp313-cp313-manylinux")
        assert files["markupsafe"].endswith(f"_{machine}.whl")
        assert selection.from_server_lock == {}


def test_an_official_image_that_cannot_be_resolved_names_the_local_base() -> None:
    # init proposes python:X.Y-slim-<suite>; where Docker Hub cannot be reached the
    # first build stops resolving it: the hint names what to build and set instead.
    for suite in bases.SUITES:
        hint = bases.unreachable_hint(suite.official(suite.python))
        assert f"set base-image to {suite.local_ref}" in hint
        assert f"'{suite.build_command}'" in hint
    missing = next(v for v in bases.SUPPORTED_PYTHONS if v not in {s.python for s in bases.SUITES})
    hint = bases.unreachable_hint(f"docker.io/library/python:{bases.version_text(missing)}-slim")
    assert f"no base containerize builds here has Python {bases.version_text(missing)}" in hint
    assert bases.known_text() in hint
    # A base containerize builds, named as init's note names it, before it is built.
    for suite in bases.SUITES:
        assert bases.unreachable_hint(suite.local_ref) == (
            f"'{suite.build_command}' builds it here from Debian's packages"
        )
    assert bases.unreachable_hint("registry.example/team/base:1") == (
        "check tool.containerize.base-image and that its registry is reachable"
    )
