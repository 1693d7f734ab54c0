"""The example projects' committed locks: read by the real readers, fresh, usable on both
platforms, and free of any index host.

``flask-app`` is locked by ``uv lock``, ``django-app`` and ``django-subfolder`` by
Poetry 2, ``hello-py313`` by ``uv lock`` run on Python 3.13 (the trixie base's),
``django-pipenv`` by ``pipenv lock`` and ``flask-pdm`` by ``pdm lock``. uv
records where each file lives; the committed ``uv.lock`` names hosts under the reserved
``.invalid`` top-level domain (RFC 2606) instead of the index it was locked against, so
those URLs never answer and the fetcher finds each file by name and hash on the user's
configured index. Poetry records no file URLs at all.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from containerize.errors import LockError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64, Platform
from containerize.project import ProjectMetadata
from containerize.project import load as project_load
from containerize.resolve.lock import check_fresh, load_lock
from containerize.resolve.selection import select
from containerize.targets import TargetEnvironment

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
TARGETS = [TargetEnvironment.from_config(LINUX_AMD64), TargetEnvironment.from_config(LINUX_ARM64)]
#: The Python of each example's base image, where it is not the default 3.11.
PYTHONS = {"hello-py313": (3, 13)}

#: Each example's lock file, and what its image installs from it (the WSGI servers come
#: from containerize's own lock).
EXAMPLES = {
    "flask-app": (
        "uv.lock",
        {"blinker", "click", "flask", "itsdangerous", "jinja2", "markupsafe", "werkzeug"},
    ),
    "django-app": ("poetry.lock", {"asgiref", "dj-database-url", "django", "sqlparse"}),
    "django-subfolder": ("poetry.lock", {"asgiref", "django", "sqlparse"}),
    "hello-py313": ("uv.lock", {"markupsafe"}),
}
#: The only hosts a URL in an example may name: placeholders that never resolve.
PLACEHOLDER_HOSTS = {"index.invalid", "files.invalid"}
#: Build output and caches that are never committed.
_NOT_COMMITTED = {".containerize", "__pycache__", "staticfiles"}
_URL_RE = re.compile(r"https?://[^\s\"'<>]+")


def _fixture(name: str) -> Path:
    return FIXTURES / name


@pytest.mark.parametrize("name", EXAMPLES)
def test_lock_is_read_by_its_reader(name: str) -> None:
    lock_name, needed = EXAMPLES[name]
    lock = load_lock(_fixture(name))
    assert lock.path.name == lock_name
    assert lock.format == {"uv.lock": "uv", "poetry.lock": "poetry"}[lock_name]
    assert lock.has_graph
    assert needed <= lock.names


@pytest.mark.parametrize("name", EXAMPLES)
def test_lock_is_fresh_for_its_pyproject(name: str) -> None:
    project = _fixture(name)
    check_fresh(load_lock(project), project_load(project))


@pytest.mark.parametrize("name", EXAMPLES)
def test_a_new_dependency_makes_the_lock_stale(name: str, tmp_path: Path) -> None:
    """The freshness check is not vacuous for these locks."""
    lock_name, _ = EXAMPLES[name]
    for file in ("pyproject.toml", lock_name):
        shutil.copy2(_fixture(name) / file, tmp_path / file)
    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    assert text.count("\ndependencies = [") == 1
    pyproject.write_text(text.replace("\ndependencies = [", '\ndependencies = ["requests", '))
    with pytest.raises(LockError, match="out of date"):
        check_fresh(load_lock(tmp_path), project_load(tmp_path))


@pytest.mark.parametrize("platform", [LINUX_AMD64, LINUX_ARM64], ids=str)
@pytest.mark.parametrize("name", EXAMPLES)
def test_every_package_has_a_wheel_for_its_python(name: str, platform: Platform) -> None:
    _, needed = EXAMPLES[name]
    project = _fixture(name)
    target = TargetEnvironment.from_config(platform, PYTHONS.get(name, (3, 11)))
    selection = select(load_lock(project), project_load(project), target)
    assert selection.names == needed
    assert selection.sdist_fallbacks == ()
    for selected in selection.packages:
        filename = selected.file.filename
        assert filename.endswith(("-none-any.whl", f"_{target.platform.machine}.whl")), filename


def test_flask_app_gets_each_platforms_own_markupsafe() -> None:
    project = _fixture("flask-app")
    lock, metadata = load_lock(project), project_load(project)
    for target in TARGETS:
        chosen = {str(p.name): p.file.filename for p in select(lock, metadata, target).packages}
        assert "-cp311-cp311-manylinux" in chosen["markupsafe"]
        assert chosen["markupsafe"].endswith(f"_{target.platform.machine}.whl")


@pytest.mark.parametrize("name", EXAMPLES)
def test_lock_names_no_index_host(name: str) -> None:
    lock = load_lock(_fixture(name))
    for package in lock.packages:
        urls = [package.source_url, *(file.url for file in package.files)]
        for url in filter(None, urls):
            assert urlsplit(url).hostname in PLACEHOLDER_HOSTS, f"{package}: {url}"
    if lock.format == "poetry":
        # Poetry names an index only through [package.source]; none was left behind.
        assert all(p.source_url is None and p.source_name is None for p in lock.packages)


@pytest.mark.parametrize("name", EXAMPLES)
def test_no_committed_file_names_an_index_host(name: str) -> None:
    root = _fixture(name)
    files = [
        path
        for path in sorted(root.rglob("*"))
        if path.is_file() and not _NOT_COMMITTED & set(path.relative_to(root).parts)
    ]
    assert root / EXAMPLES[name][0] in files
    for path in files:
        for url in _URL_RE.findall(path.read_text(encoding="utf-8")):
            assert urlsplit(url).hostname in PLACEHOLDER_HOSTS, f"{path}: {url}"


# paste-app is locked by pip-compile --generate-hashes: a requirements file has hashes
# but no dependency graph and no URLs.
PASTE_APP = ("paste-app", "requirements.txt")


def test_paste_app_pins_pastedeploy_by_hash_and_is_fresh() -> None:
    name, lock_name = PASTE_APP
    project = _fixture(name)
    lock = load_lock(project, project / lock_name)
    assert lock.format == "requirements"
    assert lock.names == {"pastedeploy"}
    check_fresh(lock, project_load(project))
    (package,) = lock.packages
    assert str(package.version) == "3.1.0"
    # The wheel and the sdist: found by hash on the configured index at build time.
    assert len(package.unnamed_hashes) == 2


def test_paste_app_commits_no_index_host() -> None:
    root = _fixture(PASTE_APP[0])
    text = "\n".join(p.read_text(encoding="utf-8") for p in sorted(root.rglob("*")) if p.is_file())
    assert "--index-url" not in text
    assert "--extra-index-url" not in text
    assert "--find-links" not in text
    assert _URL_RE.findall(text) == []


# django-pipenv is locked by 'pipenv lock' (pipenv 2026.10.3, Python 3.11) and has no
# pyproject.toml, as found; its Pipfile's source is a placeholder index and the lock's
# _meta.hash was recomputed for it ('pipenv verify' agrees). flask-pdm is locked by
# 'pdm lock -G :all' (PDM 2.29.4), which records file names and hashes, no URLs.
PIPENV_APP = "django-pipenv"
PDM_APP = "flask-pdm"


def _no_pyproject(project: Path) -> ProjectMetadata:
    """What a project without pyproject.toml declares: nothing beside its lock."""
    return ProjectMetadata(
        path=project / "pyproject.toml", name=None, version=None, requires_python=None,
        dependencies=(),
    )  # fmt: skip


def test_pipenv_app_is_found_read_and_fresh() -> None:
    project = _fixture(PIPENV_APP)
    assert not (project / "pyproject.toml").exists()
    lock = load_lock(project)
    assert lock.path.name == "Pipfile.lock"
    assert lock.format == "pipenv"
    assert lock.names == {"asgiref", "django", "sqlparse"}
    assert str(lock.requires_python) == "==3.11.*"
    check_fresh(lock, _no_pyproject(project))
    for package in lock.packages:
        assert len(package.unnamed_hashes) >= 2  # the wheel and the sdist, named by hash
        assert package.marker is None or package.marker.evaluate(TARGETS[0].marker_environment())


def test_pipenv_app_goes_stale_when_its_pipfile_changes(tmp_path: Path) -> None:
    for name in ("Pipfile", "Pipfile.lock"):
        shutil.copy2(_fixture(PIPENV_APP) / name, tmp_path / name)
    pipfile = tmp_path / "Pipfile"
    pipfile.write_text(pipfile.read_text().replace("[packages]\n", '[packages]\nrequests = "*"\n'))
    with pytest.raises(LockError, match="out of date with Pipfile"):
        check_fresh(load_lock(tmp_path), _no_pyproject(tmp_path))


def test_pdm_app_is_found_read_fresh_and_stale_when_edited(tmp_path: Path) -> None:
    project = _fixture(PDM_APP)
    lock = load_lock(project)
    assert lock.path.name == "pdm.lock"
    assert lock.format == "pdm"
    assert lock.has_graph
    check_fresh(lock, project_load(project))
    for file in ("pyproject.toml", "pdm.lock"):
        shutil.copy2(project / file, tmp_path / file)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('"flask>=3.1,<4"', '"flask>=3.1,<4", "requests"')
    )
    with pytest.raises(LockError, match="out of date"):
        check_fresh(load_lock(tmp_path), project_load(tmp_path))


@pytest.mark.parametrize("platform", [LINUX_AMD64, LINUX_ARM64], ids=str)
def test_pdm_app_has_a_wheel_for_every_package(platform: Platform) -> None:
    project = _fixture(PDM_APP)
    target = TargetEnvironment.from_config(platform)
    selection = select(load_lock(project), project_load(project), target)
    assert selection.names == {
        "blinker", "click", "flask", "itsdangerous", "jinja2", "markupsafe", "werkzeug",
    }  # fmt: skip
    assert selection.sdist_fallbacks == ()
    for selected in selection.packages:
        filename = selected.file.filename
        assert filename.endswith(("-none-any.whl", f"_{target.platform.machine}.whl")), filename


@pytest.mark.parametrize("name", [PIPENV_APP, PDM_APP])
def test_pipenv_and_pdm_apps_commit_no_index_host(name: str) -> None:
    root = _fixture(name)
    files = [
        path
        for path in sorted(root.rglob("*"))
        if path.is_file() and not _NOT_COMMITTED & set(path.relative_to(root).parts)
    ]
    assert files
    for path in files:
        for url in _URL_RE.findall(path.read_text(encoding="utf-8")):
            assert urlsplit(url).hostname in PLACEHOLDER_HOSTS, f"{path}: {url}"
    lock = load_lock(root)
    for index in lock.indexes:
        assert urlsplit(index.url).hostname in PLACEHOLDER_HOSTS
    assert all(f.url is None for p in lock.packages for f in p.files)
