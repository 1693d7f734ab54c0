"""Builders named by the user, against the real docker CLI and engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from containerize import cli
from containerize.errors import EngineError


def test_a_builder_that_does_not_exist_stops_before_anything_runs(
    make_project: Callable[[str], Path], engine: None, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("hello-wsgi")
    code = cli.main(
        ["--project", str(project), "build", "--builder", "no-such-builder-here",
         "--platform", "linux/amd64", "--server", "gunicorn"]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == EngineError.exit_code
    assert "there is no buildx builder named 'no-such-builder-here'" in err
    assert "docker buildx ls" in err
    assert "Traceback" not in err
    # Nothing was fetched or written.
    assert not (project / ".containerize").exists()

    code = cli.main(["--project", str(project), "doctor", "--builder", "no-such-builder-here"])
    out = capsys.readouterr().out
    assert code != 0
    assert "[FAIL] builder: there is no buildx builder named 'no-such-builder-here'" in out
