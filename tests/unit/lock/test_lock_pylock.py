from __future__ import annotations

from pathlib import Path

import pytest
from lock_testdata import LOCKS, copy_project, replace_in
from packaging.utils import canonicalize_name

from containerize.errors import LockError
from containerize.project import load as project_load
from containerize.resolve.lock import check_fresh, load_lock
from containerize.resolve.lock.pylock import read_pylock

PYLOCK = LOCKS / "pylock"


def test_reads_uv_exported_pylock() -> None:
    lock = read_pylock(PYLOCK / "pylock.toml")
    assert lock.format == "pylock"
    assert lock.generator == "uv"
    # uv's export records no dependencies: there is no graph to walk.
    assert not lock.has_graph
    (tomli,) = lock.find(canonicalize_name("tomli"))
    assert str(tomli.marker) == 'python_full_version < "3.12"'
    (pyuwsgi,) = lock.find(canonicalize_name("pyuwsgi"))
    assert pyuwsgi.source_url == "https://index.invalid/simple"
    assert any("manylinux_2_28_aarch64" in w.filename for w in pyuwsgi.wheels)
    assert all(w.url and w.url.startswith("https://files.invalid/") for w in pyuwsgi.wheels)


def test_real_lock_is_fresh() -> None:
    check_fresh(load_lock(PYLOCK), project_load(PYLOCK))


def test_stale_when_a_requirement_is_missing(tmp_path: Path) -> None:
    project_dir = copy_project(PYLOCK, tmp_path)
    replace_in(project_dir / "pyproject.toml", '"flask>=3.0",', '"flask>=3.0",\n    "requests",')
    with pytest.raises(LockError, match="requests \\(main\\) is not in the lock") as info:
        check_fresh(load_lock(project_dir), project_load(project_dir))
    assert info.value.hint is not None
    assert "pylock.toml" in info.value.hint


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('lock-version = "2.0"\n', "pylock.toml: lock-version: lock-version 2.0 is not supported"),
        ("created-by = 'x'\n", "pylock.toml: missing 'lock-version'"),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n'
            '[[packages.wheels]]\nurl = "https://files.invalid/a-1-py3-none-any.whl"\n'
            'hashes = {md5 = "x"}\n',
            "pylock.toml: packages[0].wheels[0].hashes: missing 'sha256'",
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\n'
            'archive = {url = "https://files.invalid/a.tar.gz", hashes = {sha256 = "00"}}\n',
            "pylock.toml: packages[0]: missing 'version'",
        ),
        (
            'lock-version = "1.0"\n[[packages]]\nname = "a"\nversion = "1"\n'
            'sdist = {url = "https://files.invalid/a-1.tar.gz", hashes = {sha256 = "00"}}\n',
            "pylock.toml: packages[0].sdist.hashes.sha256: '00' is not a sha256 hex digest",
        ),
    ],
)
def test_malformed(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pylock.toml"
    path.write_text(text)
    with pytest.raises(LockError) as info:
        read_pylock(path)
    assert message in str(info.value)
