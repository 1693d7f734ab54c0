"""``Pipfile.lock``: the real lock of ``fixtures/django-pipenv``, made by ``pipenv lock``
(pipenv 2026.10.3, Python 3.11), its source then pointed at a placeholder index and
its ``_meta.hash`` recomputed (``pipenv verify`` agrees)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from lock_testdata import ROOT
from packaging.utils import canonicalize_name

from containerize.errors import LockError
from containerize.platforms import LINUX_AMD64
from containerize.project import ProjectMetadata
from containerize.resolve.lock import check_fresh, load_lock, lock_sources
from containerize.resolve.lock.model import LockedFile
from containerize.resolve.lock.pipenv import pipfile_hashes, read_pipfile, read_pipfile_lock
from containerize.resolve.pipconfig import discover
from containerize.resolve.selection import select
from containerize.targets import TargetEnvironment

PROJECT = ROOT / "fixtures" / "django-pipenv"


def _no_project(folder: Path) -> ProjectMetadata:
    return ProjectMetadata(
        path=folder / "pyproject.toml", name=None, version=None, requires_python=None,
        dependencies=(),
    )  # fmt: skip


def _copy(tmp_path: Path) -> Path:
    for name in ("Pipfile", "Pipfile.lock"):
        shutil.copy2(PROJECT / name, tmp_path / name)
    return tmp_path


def _edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=4))


def test_reads_the_default_section_only() -> None:
    lock = load_lock(PROJECT)  # found by name
    assert lock.path.name == "Pipfile.lock"
    assert lock.format == "pipenv"
    assert lock.names == {"asgiref", "django", "sqlparse"}  # pytest & co. are 'develop'
    assert not lock.has_graph
    assert lock.needs_file_names
    assert lock.relock_command == "pipenv lock"
    (django,) = lock.find(canonicalize_name("Django"))
    assert str(django.version).startswith("5.2.")
    assert len(django.unnamed_hashes) == 2
    assert str(django.marker) == 'python_version >= "3.10"'
    assert django.source_name == "pypi"
    assert str(lock.requires_python) == "==3.11.*"


def test_sources_are_indexes_searched_after_the_users_own(tmp_path: Path) -> None:
    lock = load_lock(PROJECT)
    assert lock_sources(lock) == [
        ("index-url", "https://index.invalid/simple", "Pipfile.lock: _meta.sources[0]")
    ]
    settings = discover(
        tmp_path,
        environ={"PIP_INDEX_URL": "https://mine.invalid/simple/"},
        config_files=[],
        lock_sources=lock_sources(lock),
    )
    assert [i.url for i in settings.indexes] == [
        "https://mine.invalid/simple/",
        "https://index.invalid/simple/",
    ]


def test_source_urls_take_variables_from_the_environment(tmp_path: Path) -> None:
    project = _copy(tmp_path)

    def private(data: dict[str, Any]) -> None:
        data["_meta"]["sources"].append(
            {"name": "private", "url": "https://${USER_NAME}:$TOKEN@repo.invalid/simple"}
        )

    _edit(project / "Pipfile.lock", private)
    lock = read_pipfile_lock(project / "Pipfile.lock", {"USER_NAME": "me", "TOKEN": "s3"})
    assert lock.indexes[1].url == "https://me:s3@repo.invalid/simple"
    assert lock.indexes[1].option == "extra-index-url"
    with pytest.raises(LockError) as info:
        read_pipfile_lock(project / "Pipfile.lock", {"USER_NAME": "me"})
    assert info.value.message == (
        "Pipfile.lock: _meta.sources[1].url: the index URL uses ${TOKEN}, which is not set "
        "in the environment"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["default"]["django"].update(hashes=[]),
            "Pipfile.lock: default.django.hashes: django has no hashes: containerize "
            "installs only hash-verified files",
        ),
        (
            lambda d: d["default"]["django"].update(hashes=["md5:abc"]),
            "Pipfile.lock: default.django.hashes[0]: 'md5:abc' is not a sha256:HEX hash",
        ),
        (
            lambda d: d["default"]["django"].update(version=">=5"),
            "Pipfile.lock: default.django.version: '>=5' pins no single version (expected '==X.Y')",
        ),
        (
            lambda d: d["default"]["django"].pop("version"),
            "Pipfile.lock: default.django: missing 'version': django is not pinned",
        ),
        (
            lambda d: d["default"]["sqlparse"].update(markers="python_version >>> '3'"),
            "Pipfile.lock: default.sqlparse.markers: invalid marker",
        ),
        (
            lambda d: d["default"].update(mylib={"git": "https://git.invalid/mylib.git"}),
            "Pipfile.lock: default.mylib.git: mylib comes from git",
        ),
        (
            lambda d: d["_meta"].update({"pipfile-spec": 7}),
            "Pipfile.lock: _meta.pipfile-spec: pipfile-spec 7 is not supported",
        ),
        (lambda d: d.pop("default"), "Pipfile.lock: missing 'default'"),
    ],
)
def test_bad_entries_name_the_file_and_the_path(tmp_path: Path, change: Any, message: str) -> None:
    project = _copy(tmp_path)
    _edit(project / "Pipfile.lock", change)
    with pytest.raises(LockError) as info:
        load_lock(project)
    assert info.value.message.startswith(message)
    assert info.value.hint is not None
    assert "pipenv lock" in info.value.hint


def test_the_develop_section_is_never_read(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    _edit(project / "Pipfile.lock", lambda d: d["develop"].update(broken={"version": "nope"}))
    assert load_lock(project).names == {"asgiref", "django", "sqlparse"}


def test_the_project_itself_is_left_to_the_build_context(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    _edit(
        project / "Pipfile.lock",
        lambda d: d["default"].update(bookshelf={"editable": True, "path": "."}),
    )
    assert "bookshelf" not in load_lock(project).names


def test_not_json_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "Pipfile.lock").write_text("{\n  'default': {}\n}\n")
    with pytest.raises(LockError, match=r"^Pipfile.lock: not valid JSON: .* \(line 2, column 3\)"):
        load_lock(tmp_path)


def test_fresh_with_its_pipfile_and_stale_after_an_edit(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    lock = load_lock(project)
    assert lock.content_hash in pipfile_hashes(project / "Pipfile")
    check_fresh(lock, _no_project(project))
    pipfile = project / "Pipfile"
    pipfile.write_text(
        pipfile.read_text().replace('django = ">=5.2,<6"', 'django = ">=5.2,<6"\nrequests = "*"')
    )
    with pytest.raises(LockError, match=r"Pipfile.lock is out of date with Pipfile") as info:
        check_fresh(load_lock(project), _no_project(project))
    assert info.value.hint == "re-lock with 'pipenv lock'"
    # A name written in another case hashes the same (pipenv 2024.1 and later).
    pipfile.write_text((PROJECT / "Pipfile").read_text().replace("django =", "Django ="))
    check_fresh(load_lock(project), _no_project(project))


def test_a_pipfile_reads_as_requirements_for_containerize_lock(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text(
        '[[source]]\nurl = "https://${HOST}/simple"\nname = "x"\n\n'
        '[packages]\nflask = "*"\ndjango = "==5.2.1"\nrequests = {version = ">=2", extras = '
        '["socks"], sys_platform = "== \'linux\'"}\ncolorama = {markers = "os_name == \'nt\'"}\n'
        '\n[dev-packages]\npytest = "*"\n\n[requires]\npython_version = "3.12"\n'
    )
    found = read_pipfile(tmp_path / "Pipfile", {"HOST": "index.invalid"})
    assert found.requirements == (
        'colorama; os_name == "nt"',
        "django==5.2.1",
        "flask",
        'requests[socks]>=2; sys_platform == "linux"',
    )
    assert found.python == "3.12"
    assert [s.url for s in found.sources] == ["https://index.invalid/simple"]
    (tmp_path / "Pipfile").write_text('[packages]\nmine = {path = ".", editable = true}\n')
    with pytest.raises(LockError, match=r"^Pipfile: packages.mine.path: mine comes from path"):
        read_pipfile(tmp_path / "Pipfile")


def test_selection_takes_every_default_package(tmp_path: Path) -> None:
    lock = load_lock(PROJECT)
    target = TargetEnvironment.from_config(LINUX_AMD64)
    # The index names the files before selection; here, one wheel each by hand.
    packages = tuple(
        replace(
            p,
            unnamed_hashes=(),
            files=(
                LockedFile(
                    filename=f"{p.name}-{p.version}-py3-none-any.whl", sha256=p.unnamed_hashes[0]
                ),
            ),
        )
        for p in lock.packages
    )
    selection = select(replace(lock, packages=packages), _no_project(tmp_path), target)
    assert selection.names == {"asgiref", "django", "sqlparse"}
