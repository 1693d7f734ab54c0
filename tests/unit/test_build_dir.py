"""The build folder: containerize replaces what is in it, so it never takes the user's."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from containerize import cli, config
from containerize.buildfolder import MARKER as BUILD_DIR_MARKER
from containerize.errors import ConfigError, ContainerizeError
from containerize.fsutil import claim


@pytest.fixture
def hello(tmp_path: Path, fixtures_dir: Path) -> Path:
    dest = tmp_path / "work" / "hello"
    shutil.copytree(
        fixtures_dir / "hello-wsgi",
        dest,
        ignore=shutil.ignore_patterns(".containerize", "containerize.lock"),
    )
    return dest


def _set_build_dir(project: Path, value: str) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace(
        "[tool.containerize]\n", "[tool.containerize]\n" + f"build-dir = {value!r}\n"
    )
    pyproject.write_text(text)


@pytest.mark.parametrize(
    ("value", "what"), [(".", "the project folder"), ("..", "a folder that holds the project")]
)
def test_project_or_ancestor_refused(hello: Path, value: str, what: str) -> None:
    _set_build_dir(hello, value)
    with pytest.raises(ConfigError, match=f"build-dir: .* is {what}") as info:
        config.load(hello, environ={})
    assert info.value.hint is not None


def test_project_refused_from_the_environment(hello: Path) -> None:
    with pytest.raises(ConfigError, match=r"^CONTAINERIZE_BUILD_DIR: .* is the project folder"):
        config.load(hello, environ={"CONTAINERIZE_BUILD_DIR": str(hello)})


def test_folder_with_user_files_refused_and_left_alone(tmp_path: Path) -> None:
    folder = tmp_path / "wheelhouse-of-mine"
    (folder / "wheelhouse").mkdir(parents=True)
    (folder / "wheelhouse" / "keep.whl").write_bytes(b"mine")
    (folder / "notes.txt").write_text("mine too")
    with pytest.raises(
        ContainerizeError, match=r"holds files containerize did not write \(notes\.txt\)"
    ):
        claim(folder)
    assert (folder / "notes.txt").read_text() == "mine too"
    assert (folder / "wheelhouse" / "keep.whl").read_bytes() == b"mine"
    assert not (folder / BUILD_DIR_MARKER).exists()


def test_new_empty_and_older_build_folders_are_claimed(tmp_path: Path) -> None:
    new = tmp_path / "new"
    claim(new)
    assert (new / BUILD_DIR_MARKER).is_file()
    older = tmp_path / "older"  # written by a containerize that left no marker
    for name in ("wheelhouse", "context", "metadata", "build-requirements", ".context.old-x2"):
        (older / name).mkdir(parents=True)
    (older / ".lock").touch()
    claim(older)
    assert (older / BUILD_DIR_MARKER).is_file()
    claim(older)  # marked: nothing more to check


def test_cli_refuses_before_writing_anything(
    hello: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = hello / "site"
    mine.mkdir()
    (mine / "index.html").write_text("<h1>mine</h1>")
    _set_build_dir(hello, "site")
    before = sorted(p.relative_to(hello) for p in hello.rglob("*"))
    code = cli.main(["--project", str(hello), "wheelhouse"])
    err = capsys.readouterr().err
    assert code != 0
    assert "holds files containerize did not write (index.html)" in err
    assert "hint:" in err
    assert "Traceback" not in err
    assert sorted(p.relative_to(hello) for p in hello.rglob("*")) == before
