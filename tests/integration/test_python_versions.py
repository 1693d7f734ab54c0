"""A project locked for Python 3.13: served from the Debian trixie base (this
machine's platform: see ``trixie_base_image``), and refused by the bookworm (3.11)
base with the bases that would fit."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from containerize import bases, config, process
from containerize.commands.machine import machine
from containerize.engine import containers, preflight, probes
from containerize.errors import ResolutionError
from containerize.image import pipeline
from containerize.platforms import LINUX_AMD64, Platform

TRIXIE = bases.by_name("trixie")


def test_project_for_python_313_is_served_from_the_trixie_base(
    make_project: Callable[[str], Path], trixie_base_image: str, session_id: str
) -> None:
    """Built and served for this machine's platform (see ``trixie_base_image``)."""
    assert trixie_base_image.startswith(TRIXIE.local_ref + "-")
    project = make_project("hello-py313")
    image = f"containerize-test/hello-py313-{session_id}"
    native = Platform(os="linux", arch=probes.native_arch())
    overrides = {"image": image, "base-image": trixie_base_image, "platforms": [str(native)]}
    cfg = config.load(project, overrides=overrides)
    prepared = pipeline.prepare(
        cfg,
        machine(engine=True),
        output=preflight.choose_output(cfg.platforms, push=False),
    )
    assert [t.python_version for t in prepared.resolved.targets] == [(3, 13)]
    assert [t.libc for t in prepared.resolved.targets] == [("glibc", (2, 41))]
    summaries = pipeline.build(prepared.invocations)
    try:
        assert [s.server for s in summaries] == ["gunicorn"]
        assert [name for name, _ in summaries[0].sizes] == [str(native)]
        for platform in (native,):
            container = containers.start(f"{image}:gunicorn", platform=platform, port=8000)
            try:
                response = containers.get(container, "/", timeout=180)
                assert response.status == 200
                # The platform's own cp313 build of MarkupSafe's compiled module.
                arch = platform.machine
                assert re.fullmatch(
                    rf"Hello from Python 3\.13\.\d+ on {arch} "
                    rf"\(_speedups\.cpython-313-{arch}-linux-gnu\.so\)!",
                    response.body.decode(),
                ), response.body
                stopped = containers.stop(container, timeout=20)
                assert (stopped.exit_code, stopped.killed) == (0, False)
            finally:
                containers.remove(container)
    finally:
        process.run(["docker", "image", "rm", "--force", *summaries[0].tags], check=False)


def test_project_for_python_313_on_the_311_base_names_the_trixie_base(
    make_project: Callable[[str], Path], base_image: str
) -> None:
    project = make_project("hello-py313")
    cfg = config.load(project, overrides={"base-image": base_image})
    with pytest.raises(ResolutionError) as info:
        pipeline.resolve(cfg, machine(engine=True), record_pin=False)
    message, hint = info.value.message, info.value.hint or ""
    assert message.startswith(
        f"uv.lock is locked for Python >=3.13, but the base image {base_image} has Python 3.11."
    ), message
    assert message.endswith(f"({LINUX_AMD64})"), message
    assert f"{TRIXIE.local_ref} (built here by 'containerize base-image --python 3.13')" in hint
    assert "python:3.13-slim-bookworm, python:3.13-slim-trixie" in hint
    assert not (project / ".containerize").exists()
