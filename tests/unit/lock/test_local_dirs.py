"""Local folders named by pylock.toml, requirements files and Pipfile.lock.

tests/data/locks/local-dirs is a setuptools project (``Egg-App``, its version read
by setup.py from ``eggapp.__version__``) with a library in ``lib/`` (setup.cfg,
``version = attr: helper.__version__``), locked by the real tools from
``requirements.in`` (``-e .``, ``./lib``, ``pastedeploy``): ``uv pip compile`` into
``requirements-uv.txt`` and ``pylock.toml``, pip-compile into
``requirements-pip-compile.txt`` (absolute ``file://`` URLs of the folder it ran in,
``/tmp/local-dirs``), pipenv into ``Pipfile.lock``. Each folder becomes a local
package, with the version its build will write.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from lock_testdata import LOCKS, copy_project, replace_in
from packaging.utils import canonicalize_name
from packaging.version import Version

from containerize.errors import LockError
from containerize.resolve.cache import Cache
from containerize.resolve.localpkgs import pack
from containerize.resolve.lock import check_inputs, read_lock
from containerize.resolve.lock.localdir import read_static
from containerize.resolve.lock.pipenv import read_pipfile_lock
from containerize.resolve.lock.pylock import read_pylock
from containerize.resolve.lock.requirements import local_folders, read_requirements
from containerize.resolve.locking.inputs import find_inputs, recorded_inputs
from containerize.resolve.locking.request import LockRequest

LOCAL_DIRS = LOCKS / "local-dirs"
#: Where pip-compile ran: its file:// URLs name this folder.
COMPILED_IN = "file:///tmp/local-dirs"
EXPECTED = {
    "egg-app": (Version("1.4.0"), "."),
    "helper-lib": (Version("0.3.1"), "lib"),
    "pastedeploy": (Version("3.1.0"), None),
}
#: Pipfile.lock's source URL is taken from the environment, as pipenv does.
ENVIRON = {"REAL_INDEX": "https://index.invalid/simple"}


def _packages(path: Path) -> dict[str, tuple[Version, str | None]]:
    lock = read_lock(path) if path.name != "Pipfile.lock" else read_pipfile_lock(path, ENVIRON)
    return {str(p.name): (p.version, p.local) for p in lock.packages}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = copy_project(LOCAL_DIRS, tmp_path)
    replace_in(folder / "requirements-pip-compile.txt", COMPILED_IN, folder.resolve().as_uri())
    return folder


@pytest.mark.parametrize(
    "name", ["pylock.toml", "requirements-uv.txt", "requirements-pip-compile.txt", "Pipfile.lock"]
)
def test_each_format_names_the_folders_as_local_packages(project: Path, name: str) -> None:
    assert _packages(project / name) == EXPECTED


def test_the_project_itself_is_the_locks_project_package(project: Path) -> None:
    for name in ("pylock.toml", "requirements-uv.txt", "requirements-pip-compile.txt"):
        assert read_lock(project / name).project_package == "egg-app", name
    assert read_pipfile_lock(project / "Pipfile.lock", ENVIRON).project_package == "egg-app"


def test_packed_with_the_version_setup_py_builds(project: Path, tmp_path: Path) -> None:
    """The archive's name and PKG-INFO carry the version setup.py passes to setup(),
    which is the one setuptools writes into the wheel the compile build looks for."""
    packed = pack(read_lock(project / "requirements-uv.txt"), Cache(root=tmp_path / "cache"))
    (app,) = packed.find(canonicalize_name("egg-app"))
    assert [f.filename for f in app.files] == ["egg_app-1.4.0.tar.gz"]


def test_a_version_stated_by_the_lock_wins(project: Path) -> None:
    replace_in(
        project / "pylock.toml", 'name = "helper-lib"\n', 'name = "helper-lib"\nversion = "0.3.1"\n'
    )
    assert _packages(project / "pylock.toml")["helper-lib"] == (Version("0.3.1"), "lib")


@pytest.mark.parametrize(
    ("setup_py", "version"),
    [
        ('setup(name="a", version="2.0")', "2.0"),
        ('VERSION = "2.1"\nsetup(name="a", version=VERSION)', "2.1"),
        ('from pkg import __version__\nsetup(name="a", version=__version__)', "3.0"),
        ('import pkg\nsetup(name="a", version=pkg.__version__)', "3.0"),
        ('setup(name="a", version=__import__("pkg").__version__)', "3.0"),
    ],
)
def test_the_version_setup_py_states(tmp_path: Path, setup_py: str, version: str) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text('__version__ = "3.0"\n')
    (tmp_path / "setup.py").write_text(f"from setuptools import setup\n{setup_py}\n")
    meta = read_static(tmp_path)
    assert (meta.name, meta.version, meta.version_problem) == ("a", version, None)


def test_a_computed_version_is_an_error_naming_setup_py_line(tmp_path: Path) -> None:
    (tmp_path / "setup.py").write_text(
        "import subprocess\nfrom setuptools import setup\n\n"
        'setup(\n    name="a",\n    version=subprocess.check_output(["date"]).decode(),\n)\n'
    )
    (tmp_path / "requirements.txt").write_text(".\n")
    with pytest.raises(LockError) as info:
        read_requirements(tmp_path / "requirements.txt")
    assert info.value.message.startswith(
        "requirements.txt:1: the version of a cannot be read from '.': setup.py:6: "
        "version=subprocess.check_output(['date']).decode() is computed when setup.py runs"
    )
    assert info.value.hint is not None
    assert "version='1.2.0' in setup.py" in info.value.hint


@pytest.mark.parametrize(
    ("name", "edit", "message"),
    [
        (
            "pylock.toml",
            ('path = "lib"', 'path = "../elsewhere"'),
            "pylock.toml: packages[1].directory.path: the local package folder "
            "'../elsewhere' is outside the project",
        ),
        (
            "pylock.toml",
            ('path = "lib"', 'path = "gone"'),
            "pylock.toml: packages[1].directory.path: the local package folder 'gone' does "
            "not exist",
        ),
        (
            "pylock.toml",
            ('name = "helper-lib"', 'name = "other-lib"'),
            "pylock.toml: packages[1].directory.path: the lock names other-lib, but 'lib' is "
            "the package helper-lib",
        ),
        (
            "requirements-uv.txt",
            ("./lib", "./gone"),
            "requirements-uv.txt:5: the local package folder './gone' does not exist",
        ),
        (
            "requirements-pip-compile.txt",
            ("/lib\n", "/../outside\n"),
            "requirements-pip-compile.txt:13: the local package folder",  # then its path
        ),
    ],
)
def test_bad_folders_name_the_lock_line(
    project: Path, name: str, edit: tuple[str, str], message: str
) -> None:
    replace_in(project / name, *edit)
    with pytest.raises(LockError) as info:
        read_lock(project / name)
    assert info.value.message.startswith(message), info.value.message


def test_a_pipfile_lock_path_outside_the_project_names_its_key(project: Path) -> None:
    path = project / "Pipfile.lock"
    data = json.loads(path.read_text())
    data["default"]["helper-lib"]["path"] = "../elsewhere"
    path.write_text(json.dumps(data))
    with pytest.raises(LockError) as info:
        read_pipfile_lock(path, ENVIRON)
    assert info.value.message.startswith(
        "Pipfile.lock: default.helper-lib.path: the local package folder '../elsewhere' is "
        "outside the project"
    ), info.value.message


def test_a_requirements_file_lists_the_folders_it_names(project: Path) -> None:
    assert local_folders(project / "requirements.in") == (
        project.resolve(),
        (project / "lib").resolve(),
    )


def test_the_project_folder_is_an_input_recorded_and_checked(project: Path) -> None:
    """'containerize lock requirements.in .': the folder is recorded by what its
    requirements come from, found again on a re-lock, and a change to setup.py makes
    the lock stale."""
    (project / "Pipfile.lock").unlink()  # a lock of its own: 'containerize lock' leaves it
    given = find_inputs(project, [Path("requirements.in"), Path(".")], project=None, previous=None)
    assert (given.files, given.folders) == ((project / "requirements.in",), (project.resolve(),))
    request = LockRequest(project_dir=project, inputs=given, python=(3, 11))
    recorded = recorded_inputs(request)
    assert [(i.path, i.kind, i.included) for i in recorded] == [
        ("requirements.in", "requirements", False),
        (".", "project", False),
        ("lib", "project", True),  # named by requirements.in itself
    ]
    lock_path = project / "pylock.toml"
    text = lock_path.read_text() + '\n[tool.containerize]\npython = "3.11"\ninputs = [\n'
    for item in recorded:
        included = ", included = true" if item.included else ""
        entry = f'path = "{item.path}", kind = "{item.kind}", sha256 = "{item.sha256}"'
        text += f"  {{{entry}{included}}},\n"
    lock_path.write_text(text + "]\n")
    lock = read_pylock(lock_path)
    check_inputs(lock)
    again = find_inputs(project, [], project=None, previous=lock)
    assert (again.files, again.folders) == (given.files, given.folders)
    (project / "pyproject.toml").write_text('[tool.containerize]\napp = "production.ini"\n')
    check_inputs(lock)  # a table of containerize's own is no requirement
    replace_in(project / "setup.py", '["pastedeploy"]', '["pastedeploy", "webob"]')
    with pytest.raises(LockError) as info:
        check_inputs(lock)
    assert info.value.message == (
        "the package folder . (setup.py, setup.cfg, pyproject.toml) changed since the lock "
        "was made: run containerize lock"
    )


def test_a_folder_input_that_is_no_package_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    with pytest.raises(LockError) as info:
        find_inputs(tmp_path, [Path("docs")], project=None, previous=None)
    assert info.value.message.startswith("docs: the folder is no package")
    with pytest.raises(LockError) as info:
        find_inputs(tmp_path / "docs", [Path("..")], project=None, previous=None)
    assert "is outside the project" in info.value.message


def test_the_recorded_digest_ignores_containerizes_own_table(tmp_path: Path) -> None:
    from containerize.resolve.lock import input_digest  # noqa: PLC0415

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "a"\nversion = "1"\n')
    before = input_digest(tmp_path, "project")
    with (tmp_path / "pyproject.toml").open("a") as stream:
        stream.write('[tool.containerize]\napp = "a:app"\n')
    assert input_digest(tmp_path, "project") == before
    assert before != hashlib.sha256(b"").hexdigest()
