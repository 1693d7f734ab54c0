"""``pdm.lock``: real locks made by ``pdm lock -G :all`` (PDM 2.29.4, lock_version
4.5.1): ``tests/data/locks/pdm`` (a dependency with an extra, a ``servers`` group) and
``fixtures/flask-pdm`` (an optional extra and a ``test`` group)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from lock_testdata import LOCKS, ROOT, replace_in
from packaging.utils import canonicalize_name

from containerize.errors import LockError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.project import load as project_load
from containerize.resolve.lock import check_fresh, load_lock
from containerize.resolve.selection import closure, select
from containerize.targets import TargetEnvironment

SHOP = LOCKS / "pdm"
FLASK = ROOT / "fixtures" / "flask-pdm"


def _copy(source: Path, tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "pdm.lock"):
        shutil.copy2(source / name, tmp_path / name)
    return tmp_path


def test_reads_packages_groups_hashes_and_python() -> None:
    lock = load_lock(SHOP)  # found by name
    assert lock.path.name == "pdm.lock"
    assert lock.format == "pdm"
    assert lock.has_graph
    assert lock.relock_command == "pdm lock"
    assert str(lock.requires_python) == ">=3.11"
    (gunicorn,) = lock.find(canonicalize_name("gunicorn"))
    assert gunicorn.groups == {"servers"}
    (sqlalchemy,) = lock.find(canonicalize_name("SQLAlchemy"))
    assert {f.filename for f in sqlalchemy.wheels} >= {
        f"sqlalchemy-{sqlalchemy.version}-cp311-cp311-manylinux2014_x86_64."
        "manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl"
    }
    assert all(f.url is None and len(f.sha256) == 64 for f in sqlalchemy.files)
    assert sqlalchemy.sdist is not None


def test_an_extras_entry_becomes_what_the_extra_adds() -> None:
    lock = load_lock(SHOP)
    (flask,) = lock.find(canonicalize_name("flask"))  # one package, not two
    assert [d.name for d in flask.extra_dependencies("dotenv")] == ["python-dotenv"]
    assert "python-dotenv" not in {d.name for d in flask.dependencies}


@pytest.mark.parametrize("platform", [LINUX_AMD64, LINUX_ARM64], ids=str)
def test_groups_choose_what_the_image_gets(platform: object) -> None:
    lock, project = load_lock(SHOP), project_load(SHOP)
    target = TargetEnvironment.from_config(platform)  # type: ignore[arg-type]
    runtime = select(lock, project, target).names
    assert {"flask", "python-dotenv", "sqlalchemy", "werkzeug"} <= runtime
    assert "gunicorn" not in runtime
    with_servers = select(lock, project, target, groups=("main", "servers")).names
    assert with_servers == runtime | {"gunicorn"}


def test_optional_extras_and_markers_of_the_fixture() -> None:
    lock, project = load_lock(FLASK), project_load(FLASK)
    (colorama,) = lock.find(canonicalize_name("colorama"))
    assert str(colorama.marker) == 'sys_platform == "win32"'
    target = TargetEnvironment.from_config(LINUX_AMD64)
    assert "python-dotenv" not in select(lock, project, target).names
    assert "python-dotenv" in select(lock, project, target, extras=("dotenv",)).names
    tests = select(lock, project, target, groups=("main", "test")).names
    assert "pytest" in tests
    assert "colorama" not in tests  # Windows only


@pytest.mark.parametrize("source", [SHOP, FLASK], ids=["shop", "flask-pdm"])
def test_fresh_and_stale_by_pdms_content_hash(source: Path, tmp_path: Path) -> None:
    project = _copy(source, tmp_path)
    check_fresh(load_lock(project), project_load(project))
    # containerize's own table is not part of PDM's hash.
    with (project / "pyproject.toml").open("a") as handle:
        handle.write('\n[tool.containerize]\napp = "wsgi:application"\n')
    check_fresh(load_lock(project), project_load(project))
    replace_in(
        project / "pyproject.toml", 'requires-python = ">=3.11"', 'requires-python = ">=3.12"'
    )
    with pytest.raises(LockError, match=r"pdm.lock is out of date with pyproject.toml") as info:
        check_fresh(load_lock(project), project_load(project))
    assert info.value.hint == "re-lock with 'pdm lock'"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'lock_version = "4.5.1"',
            'lock_version = "5.0"',
            "pdm.lock: metadata.lock_version: lock_version 5.0 is not supported",
        ),
        (
            'hash = "sha256:',
            'hash = "md5:',
            "pdm.lock: package[0].files[0].hash: 'md5:",
        ),
        (
            'name = "blinker"\nversion = "1.9.0"',
            'name = "blinker"\nversion = "one"',
            "pdm.lock: package[0].version: 'one' is not a valid version",
        ),
        (
            '"blinker>=1.9.0",',
            '"blinker>=>1",',
            "pdm.lock: package[3].dependencies[0]: invalid requirement",
        ),
    ],
)
def test_bad_entries_name_the_file_and_the_path(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    project = _copy(FLASK, tmp_path)
    replace_in(project / "pdm.lock", old, new)
    with pytest.raises(LockError, match="^" + re.escape(message)) as info:
        load_lock(project)
    assert info.value.hint is not None
    assert "pdm lock" in info.value.hint


def test_a_path_dependency_is_a_local_package_and_a_vcs_one_is_refused(tmp_path: Path) -> None:
    project = _copy(FLASK, tmp_path)
    replace_in(
        project / "pdm.lock",
        'name = "blinker"\nversion = "1.9.0"',
        'name = "blinker"\nversion = "1.9.0"\npath = "../blinker"',
    )
    (blinker,) = load_lock(project).local_packages
    assert (blinker.name, blinker.local, blinker.files) == ("blinker", "../blinker", ())
    replace_in(project / "pdm.lock", 'path = "../blinker"', 'git = "https://example.invalid/b"')
    with pytest.raises(LockError, match=r"^pdm.lock: package\[0\].git: blinker comes from git"):
        load_lock(project)


def test_the_project_itself_and_its_path_dependency_from_a_real_pdm_lock() -> None:
    """fixtures/pdm-pathdep: PDM 2.29.4 locked a path dependency; the project is a
    library (``distribution = true``), so ``pdm install`` installs it too."""
    app = ROOT / "fixtures" / "pdm-pathdep" / "app"
    lock, project = load_lock(app), project_load(app)
    check_fresh(lock, project)
    assert lock.project_package == "pdm-app"
    assert sorted((str(p.name), p.local) for p in lock.local_packages) == [
        ("greeting", "../greeting"),
        ("pdm-app", "."),
    ]
    # Both are needed (and packed from their folders before anything is selected).
    needed = closure(lock, project, TargetEnvironment.from_config(LINUX_AMD64))
    assert {str(p.name) for p in needed} == {"greeting", "pdm-app"}


def test_an_application_is_not_installed_itself(tmp_path: Path) -> None:
    app = _copy(ROOT / "fixtures" / "pdm-pathdep" / "app", tmp_path)
    replace_in(app / "pyproject.toml", "distribution = true", "distribution = false")
    lock = load_lock(app)
    assert lock.project_package is None
    assert [str(p.name) for p in lock.local_packages] == ["greeting"]


def test_groups_of_the_older_tool_pdm_dev_dependencies(tmp_path: Path) -> None:
    """``[tool.pdm.dev-dependencies]`` (PDM before PEP 735), locked by PDM 2.29.4."""
    legacy = LOCKS / "pdm-legacy"
    lock, project = load_lock(legacy), project_load(legacy)
    check_fresh(lock, project)
    target = TargetEnvironment.from_config(LINUX_AMD64)
    assert select(lock, project, target).names == {"markupsafe"}
    assert select(lock, project, target, groups=("main", "web")).names == {
        "markupsafe",
        "werkzeug",
    }
    # An editable checkout in a dev group is the developer's, never the image's.
    project_dir = _copy(legacy, tmp_path)
    replace_in(
        project_dir / "pyproject.toml",
        'web = ["werkzeug>=3.1"]',
        'web = ["werkzeug>=3.1", "-e file:///${PROJECT_ROOT}/../lib#egg=lib"]',
    )
    assert [str(r) for r in project_load(project_dir).group_requirements("web")] == [
        "werkzeug>=3.1"
    ]
