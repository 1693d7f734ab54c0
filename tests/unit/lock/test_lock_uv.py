from __future__ import annotations

from pathlib import Path

import pytest
from lock_testdata import LOCKS, copy_project, replace_in
from packaging.utils import canonicalize_name

from containerize.errors import LockError
from containerize.project import load as project_load
from containerize.resolve.lock import check_fresh, load_lock
from containerize.resolve.lock.uv import read_uv_lock

UV = LOCKS / "uv"


def test_reads_packages_roots_and_edges() -> None:
    lock = read_uv_lock(UV / "uv.lock")
    assert lock.format == "uv"
    assert lock.has_graph
    # The virtual project is a root, not a package to install.
    assert not lock.find(canonicalize_name("shop"))
    assert lock.root_names("main") == {"click", "flask", "sqlalchemy", "tomli"}
    assert lock.root_names("extra:yaml") == {"pyyaml"}
    assert lock.root_names("servers") == {"gunicorn", "mod-wsgi", "pyuwsgi"}
    (sqlalchemy,) = lock.find(canonicalize_name("sqlalchemy"))
    assert sqlalchemy.source_url == "https://index.invalid/simple"
    greenlet_edge = next(d for d in sqlalchemy.dependencies if d.name == "greenlet")
    assert greenlet_edge.marker is not None
    assert "aarch64" in str(greenlet_edge.marker)
    (mod_wsgi,) = lock.find(canonicalize_name("mod-wsgi"))
    assert mod_wsgi.wheels == ()
    sdist = mod_wsgi.sdist
    assert sdist is not None
    assert sdist.url is not None
    assert sdist.url.startswith("https://files.invalid/")
    assert sdist.filename == "mod_wsgi-6.1.1.tar.gz"


def test_real_lock_is_fresh() -> None:
    check_fresh(load_lock(UV), project_load(UV))


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"flask>=3.0",',
            '"flask>=3.0",\n    "requests>=2",',
            "requests (main) is not in the lock",
        ),
        ('    "click>=8.1,<8.2",\n', "", "click (main) is locked but no longer required"),
        ('"flask>=3.0"', '"flask>=4"', "flask>=4 (main) but the lock has 3.1.3"),
        ('dev = ["pytest>=8"]', 'test = ["pytest>=8"]', "the lock has 'dev'"),
    ],
)
def test_stale_lock(tmp_path: Path, old: str, new: str, message: str) -> None:
    project_dir = copy_project(UV, tmp_path)
    replace_in(project_dir / "pyproject.toml", old, new)
    with pytest.raises(LockError, match=r"uv\.lock is out of date") as info:
        check_fresh(load_lock(project_dir), project_load(project_dir))
    assert message in str(info.value)
    assert info.value.hint == "re-lock with 'uv lock'"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("version = 1\n", "version = 2\n", "uv.lock: version: uv.lock version 2 is not supported"),
        (
            'hash = "sha256:b4ce2265',
            'hash = "sha512:b4ce2265',
            "uv.lock: package[0].sdist.hash: 'sha512:",
        ),
        (
            'source = { registry = "https://index.invalid/simple" }\n',
            "",
            "package[0]: missing 'source'",
        ),
        ('name = "blinker"', 'name = "-blinker"', "package[0].name: '-blinker' is not a valid"),
    ],
)
def test_malformed(tmp_path: Path, old: str, new: str, message: str) -> None:
    project_dir = copy_project(UV, tmp_path)
    path = project_dir / "uv.lock"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(LockError) as info:
        read_uv_lock(path)
    assert message in str(info.value)
