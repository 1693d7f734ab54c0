"""Several hashed requirements files read as one lock (``lock = ["requirements/main.txt",
"requirements/deploy.txt"]``): real files made by ``uv pip compile --generate-hashes``
(uv 0.13.9), both pinning markupsafe 3.0.4."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lock_testdata import LOCKS, replace_in
from packaging.utils import canonicalize_name

from containerize.errors import LockError
from containerize.project import load as project_load
from containerize.resolve.lock import check_fresh, load_locks

SEVERAL = LOCKS / "several"
MAIN = Path("requirements/main.txt")
DEPLOY = Path("requirements/deploy.txt")


def _copy(tmp_path: Path) -> Path:
    project = tmp_path / "several"
    shutil.copytree(SEVERAL, project)
    return project


def test_two_files_are_one_lock_and_a_shared_pin_is_kept_once() -> None:
    lock = load_locks(SEVERAL, [MAIN, DEPLOY])
    assert lock.format == "requirements"
    assert lock.path == SEVERAL / MAIN
    assert lock.names == {
        "blinker", "click", "flask", "gunicorn", "itsdangerous", "jinja2", "markupsafe",
        "werkzeug",
    }  # fmt: skip
    (markupsafe,) = lock.find(canonicalize_name("MarkupSafe"))
    assert len(markupsafe.unnamed_hashes) > 10
    assert lock.generator == "uv"
    check_fresh(lock, project_load(SEVERAL))


def test_one_path_reads_as_load_lock_does() -> None:
    assert load_locks(SEVERAL, [MAIN]).names == load_locks(SEVERAL, [SEVERAL / MAIN]).names
    assert "gunicorn" not in load_locks(SEVERAL, [MAIN]).names


def test_conflicting_pins_name_both_lines(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    deploy = project / DEPLOY
    text = deploy.read_text()
    replace_in(deploy, "markupsafe==3.0.4", "markupsafe==3.0.3")
    line = text[: text.index("markupsafe==3.0.4")].count("\n") + 1
    main_line = (project / MAIN).read_text()
    main_line_no = main_line[: main_line.index("markupsafe==3.0.4")].count("\n") + 1
    with pytest.raises(LockError) as info:
        load_locks(project, [MAIN, DEPLOY])
    assert info.value.message == (
        f"requirements/deploy.txt:{line}: markupsafe is pinned to 3.0.3 here and to 3.0.4 at "
        f"requirements/main.txt:{main_line_no}, without markers to tell when each applies"
    )


def test_the_same_version_with_other_hashes_is_a_conflict_too(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    deploy = project / DEPLOY
    text = deploy.read_text()
    start = text.index("markupsafe==3.0.4")
    first_hash = text.index("--hash=sha256:", start) + len("--hash=sha256:")
    deploy.write_text(text[:first_hash] + "0" * 64 + text[first_hash + 64 :])
    with pytest.raises(LockError, match=r"^requirements/deploy.txt:\d+: markupsafe==3.0.4 is "
                       r"pinned again, differently, at requirements/main.txt:\d+"):  # fmt: skip
        load_locks(project, [MAIN, DEPLOY])


def test_a_file_included_by_another_is_read_once(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    (project / "requirements" / "all.txt").write_text("-r main.txt\n-r deploy.txt\n")
    lock = load_locks(project, [Path("requirements/all.txt"), MAIN])
    assert lock.names == load_locks(project, [MAIN, DEPLOY]).names


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ([MAIN, Path("poetry.lock")], "tool.containerize.lock[1]: poetry.lock is a poetry lock: "
         "only requirements files can be combined"),
        ([MAIN, Path("requirements/nope.txt")], "tool.containerize.lock[1]: "),
        ([MAIN, Path("Gemfile.lock")], "tool.containerize.lock[1]: "),
    ],
)  # fmt: skip
def test_what_cannot_be_combined(tmp_path: Path, paths: list[Path], message: str) -> None:
    project = _copy(tmp_path)
    (project / "poetry.lock").write_text("")
    with pytest.raises(LockError) as info:
        load_locks(project, paths)
    assert info.value.message.startswith(message)
    assert info.value.hint
