from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lock_testdata import LOCKS

from containerize.errors import LockError
from containerize.resolve.lock import detect_format, load_lock


@pytest.mark.parametrize(
    ("project", "fmt"), [("poetry2", "poetry"), ("uv", "uv"), ("pylock", "pylock")]
)
def test_detects_the_one_lock(project: str, fmt: str) -> None:
    assert load_lock(LOCKS / project).format == fmt


def test_more_than_one_lock_needs_a_choice(tmp_path: Path) -> None:
    shutil.copy(LOCKS / "uv" / "uv.lock", tmp_path)
    shutil.copy(LOCKS / "poetry2" / "poetry.lock", tmp_path)
    with pytest.raises(LockError, match=r"more than one lock file \(poetry.lock, uv.lock\)"):
        load_lock(tmp_path)
    assert load_lock(tmp_path, Path("uv.lock")).format == "uv"
    assert load_lock(tmp_path, tmp_path / "poetry.lock").format == "poetry"


def test_no_lock_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(LockError, match="no lock file") as info:
        load_lock(tmp_path)
    assert info.value.hint is not None
    assert "poetry lock" in info.value.hint
    assert "uv lock" in info.value.hint


def test_explicit_missing_lock(tmp_path: Path) -> None:
    with pytest.raises(LockError, match="no such lock file") as info:
        load_lock(tmp_path, Path("pylock.prod.toml"))
    assert info.value.hint is not None
    assert "pip lock" in info.value.hint


def test_unknown_lock_name() -> None:
    with pytest.raises(LockError, match="not a lock file"):
        detect_format(Path("Gemfile.lock"))
