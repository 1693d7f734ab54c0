"""What the unit tests of ``containerize init`` share: a project tree written from
text, init run on it as the CLI runs it, the table it wrote, and a machine without an
engine."""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path

import pytest

from containerize import cli
from containerize.engine import probes


@pytest.fixture(autouse=True)
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """init asks the engine whether the base image it proposes resolves: these tests
    run as on a machine without one (the base image is then not checked)."""
    monkeypatch.setattr(probes, "engine_reachable", lambda: False)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), newline="")
    return root


def init(project: Path, *args: str) -> int:
    return cli.main(["--project", str(project), "init", *args])


def table(project: Path) -> dict[str, object]:
    data = tomllib.loads((project / "pyproject.toml").read_text())
    found: dict[str, object] = data["tool"]["containerize"]
    return found
