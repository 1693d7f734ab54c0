"""Paths of the real lock files used by the tests, and a helper to edit copies."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LOCKS = ROOT / "tests" / "data" / "locks"
HELLO = ROOT / "fixtures" / "hello-wsgi"


def copy_project(source: Path, tmp_path: Path) -> Path:
    """Copy a test-data project into *tmp_path* so a test may edit it."""
    target = tmp_path / source.name
    shutil.copytree(source, target)
    return target


def replace_in(path: Path, old: str, new: str) -> None:
    """Edit *path*, insisting that *old* is there."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new))
