from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from lock_testdata import HELLO, LOCKS, copy_project, replace_in
from packaging.markers import Marker
from packaging.utils import canonicalize_name
from packaging.version import Version

from containerize.errors import LockError
from containerize.project import load as project_load
from containerize.resolve.lock import check_fresh, load_lock
from containerize.resolve.lock.poetry import poetry_content_hashes, read_poetry_lock


def test_poetry2_lock_reads_groups_and_per_group_markers() -> None:
    lock = read_poetry_lock(LOCKS / "poetry2" / "poetry.lock")
    assert lock.format == "poetry"
    assert lock.generator is not None
    assert "Poetry 2" in lock.generator
    names = [p.name for p in lock.packages]
    assert names == sorted(names)
    assert {"flask", "sqlalchemy", "greenlet", "pytest", "pyyaml"} <= set(names)
    (colorama,) = lock.find(canonicalize_name("colorama"))
    # Poetry 2.1 writes {main = ..., dev = ...}; the model keeps where any holds.
    assert colorama.groups == {"main", "dev"}
    assert colorama.marker == Marker('platform_system == "Windows" or sys_platform == "win32"')
    (greenlet,) = lock.find(canonicalize_name("greenlet"))
    assert greenlet.marker is not None
    assert "aarch64" in str(greenlet.marker)
    assert all(len(f.sha256) == 64 and f.url is None for f in greenlet.files)
    (sqlalchemy,) = lock.find(canonicalize_name("sqlalchemy"))
    assert sqlalchemy.version == Version("2.0.58")
    edges = {d.name: d for d in sqlalchemy.dependencies}
    assert edges[canonicalize_name("greenlet")].marker is not None
    assert [d.name for d in sqlalchemy.extra_dependencies("asyncio")] == ["greenlet"]
    (tomli,) = lock.find(canonicalize_name("tomli"))
    assert tomli.marker == Marker('python_version == "3.11"')


def test_poetry1_lock_has_no_groups_but_a_graph() -> None:
    lock = read_poetry_lock(LOCKS / "poetry1" / "poetry.lock")
    assert lock.generator is not None
    assert "Poetry 1.8" in lock.generator
    assert lock.has_graph
    (pytest_pkg,) = lock.find(canonicalize_name("pytest"))
    assert pytest_pkg.groups == frozenset()
    assert pytest_pkg.marker is None
    assert str(lock.requires_python) == "<4.0,>=3.11"


@pytest.mark.parametrize(
    "project_dir",
    [LOCKS / "poetry1", LOCKS / "poetry2", HELLO],
    ids=["poetry1", "poetry2", "hello"],
)
def test_content_hash_matches_poetrys(project_dir: Path) -> None:
    lock = load_lock(project_dir)
    data = tomllib.loads((project_dir / "pyproject.toml").read_text())
    assert lock.content_hash in poetry_content_hashes(data)
    check_fresh(lock, project_load(project_dir))


def test_hello_wsgi_lock_has_the_four_servers() -> None:
    lock = load_lock(HELLO)
    assert [str(p.name) for p in lock.packages] == [
        "cheroot",
        "gunicorn",
        "jaraco-functools",
        "mod-wsgi",
        "more-itertools",
        "pyuwsgi",
    ]
    assert all(p.groups == {"servers"} for p in lock.packages)
    (mod_wsgi,) = lock.find(canonicalize_name("mod-wsgi"))
    assert mod_wsgi.wheels == ()
    assert mod_wsgi.sdist is not None


@pytest.mark.parametrize(
    ("project", "old", "new"),
    [
        ("poetry2", '"flask>=3.0"', '"flask>=3.1"'),
        ("poetry1", 'flask = "^3.0"', 'flask = "^3.1"'),
    ],
)
def test_edited_dependency_makes_the_lock_stale(
    tmp_path: Path, project: str, old: str, new: str
) -> None:
    project_dir = copy_project(LOCKS / project, tmp_path)
    replace_in(project_dir / "pyproject.toml", old, new)
    with pytest.raises(LockError, match="out of date") as info:
        check_fresh(load_lock(project_dir), project_load(project_dir))
    assert info.value.hint is not None
    assert "poetry lock" in info.value.hint


def test_unrelated_edit_keeps_the_lock_fresh(tmp_path: Path) -> None:
    project_dir = copy_project(LOCKS / "poetry2", tmp_path)
    replace_in(project_dir / "pyproject.toml", "A small Flask app", "A Flask app")
    check_fresh(load_lock(project_dir), project_load(project_dir))


LOCK_1_1 = (
    """\
[[package]]
name = "Click"
version = "8.0.1"
description = ""
category = "main"
optional = false
python-versions = ">=3.6"

[package.dependencies]
colorama = {version = "*", markers = "platform_system == \\"Windows\\""}

[[package]]
name = "colorama"
version = "0.4.4"
description = ""
category = "dev"
optional = false
python-versions = ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*, !=3.3.*, !=3.4.*"

[metadata]
lock-version = "1.1"
python-versions = "^3.8"
content-hash = "0000000000000000000000000000000000000000000000000000000000000000"

[metadata.files]
click = [
    {file = "click-8.0.1-py3-none-any.whl", hash = "sha256:{a}"},
    {file = "click-8.0.1.tar.gz", hash = "sha256:{b}"},
]
colorama = [
    {file = "colorama-0.4.4-py2.py3-none-any.whl", hash = "sha256:{c}"},
]
""".replace("{a}", "a" * 64)
    .replace("{b}", "b" * 64)
    .replace("{c}", "c" * 64)
)


def test_lock_version_1_1_reads_metadata_files_and_category(tmp_path: Path) -> None:
    path = tmp_path / "poetry.lock"
    path.write_text(LOCK_1_1)
    lock = read_poetry_lock(path)
    click, colorama = lock.packages
    assert click.name == "click"
    assert [f.filename for f in click.files] == [
        "click-8.0.1-py3-none-any.whl",
        "click-8.0.1.tar.gz",
    ]
    assert click.files[0].sha256 == "a" * 64
    assert click.groups == {"main"}
    assert colorama.groups == {"dev"}
    assert click.dependencies[0].marker == Marker('platform_system == "Windows"')


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "poetry.lock"
    path.write_text(text)
    return path


def _package(**fields: object) -> str:
    body = {"name": "demo", "version": "1.0", **fields}
    lines = [f"{k} = {json.dumps(v)}" for k, v in body.items() if not isinstance(v, list)]
    return "[[package]]\n" + "\n".join(lines) + "\n"


METADATA = '\n[metadata]\nlock-version = "2.1"\npython-versions = ">=3.11"\ncontent-hash = "x"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _package() + 'files = [{file = "demo-1.0.tar.gz"}]\n' + METADATA,
            "poetry.lock: package[0].files[0]: missing 'hash'",
        ),
        (
            _package() + 'files = [{file = "demo-1.0.tar.gz", hash = "md5:abc"}]\n' + METADATA,
            "poetry.lock: package[0].files[0].hash: 'md5:abc' is not a sha256 hash",
        ),
        (
            _package()
            + 'files = [{file = "demo-1.0-py3.whl", hash = "sha256:'
            + "a" * 64
            + '"}]\n'
            + METADATA,
            "poetry.lock: package[0].files[0].hash: invalid file name 'demo-1.0-py3.whl'",
        ),
        (_package(version="not a version") + METADATA, "package[0].version: 'not a version'"),
        (_package(markers="os_name ==") + METADATA, "package[0].markers: invalid marker"),
        ('[[package]]\nversion = "1.0"\n' + METADATA, "package[0]: missing 'name'"),
        (_package(), "poetry.lock: missing 'metadata'"),
        (METADATA.replace('"2.1"', '"3.0"'), "metadata.lock-version: lock-version 3.0"),
        ("[[package]\n", "poetry.lock: not valid TOML"),
    ],
)
def test_malformed_lock_errors_name_file_and_path(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(LockError) as info:
        read_poetry_lock(_write(tmp_path, text))
    assert message in str(info.value)
    assert info.value.hint is not None


def test_a_project_in_package_mode_is_installed_itself(tmp_path: Path) -> None:
    """fixtures/poetry-package, locked by Poetry 2.5.1: 'poetry install' installs the
    project itself (package mode is the default), so the image does too."""
    package = HELLO.parent / "poetry-package"
    lock, project = load_lock(package), project_load(package)
    check_fresh(lock, project)
    assert lock.project_package == "poetry-package"
    (itself,) = lock.local_packages
    assert (itself.version, itself.local) == (Version("3.2.0"), ".")
    # package-mode = false (hello-wsgi, which has a build system too): not installed.
    assert load_lock(HELLO).project_package is None
    # Without a build system there is nothing to build it with.
    copy = copy_project(package, tmp_path)
    replace_in(copy / "pyproject.toml", "[build-system]", "[tool.other]")
    assert load_lock(copy).project_package is None
