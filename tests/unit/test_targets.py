from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest
from packaging.markers import default_environment
from packaging.tags import Tag, sys_tags

from containerize.errors import ConfigError, EngineError, ResolutionError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64
from containerize.targets import MARKER_KEYS, PROBE_SCRIPT, TargetEnvironment, compute_tags


def _probe() -> dict[str, Any]:
    # -I: the probe must work without site-packages, as in a bare base image.
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE_SCRIPT], capture_output=True, text=True, check=True
    ).stdout
    facts = json.loads(out)
    assert isinstance(facts, dict)
    return facts


def test_probe_reports_the_marker_environment() -> None:
    facts = _probe()
    assert set(facts["markers"]) == set(default_environment())
    assert facts["markers"] == default_environment()
    assert facts["executable"] == sys.executable
    assert facts["libc"]["name"] == "glibc"


def test_from_probe_accepts_what_pip_accepts_here() -> None:
    target = TargetEnvironment.from_probe(LINUX_AMD64, _probe())
    assert set(target.tags) == set(sys_tags())
    assert target.tags[0] == Tag("cp311", "cp311", f"manylinux_2_{target.libc[1][1]}_x86_64")
    assert target.tags[-1] == Tag("py30", "none", "any")
    assert target.interpreter == sys.executable


def test_probe_on_the_wrong_machine_is_an_engine_error() -> None:
    with pytest.raises(EngineError, match="ran as x86_64, not aarch64") as info:
        TargetEnvironment.from_probe(LINUX_ARM64, _probe())
    assert info.value.hint is not None
    assert "emulation" in info.value.hint


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"markers": {"os_name": "posix"}},
            "'markers': missing or not a string: implementation_name",
        ),
        ({"version_info": "3.11"}, "'version_info': expected 3 integers"),
        ({"executable": None}, "'executable': expected a non-empty string"),
        ({"libc": {"name": "bionic", "version": "1"}}, "'libc': expected"),
        ({"libc": {"name": "glibc", "version": "two"}}, "'libc': version 'two' is not X.Y"),
    ],
)
def test_malformed_probe(change: dict[str, Any], message: str) -> None:
    facts = {**_probe(), **change}
    with pytest.raises(EngineError, match="probe output for linux/amd64") as info:
        TargetEnvironment.from_probe(LINUX_AMD64, facts)
    assert message in str(info.value)


def test_unsupported_probes() -> None:
    with pytest.raises(ResolutionError, match="not CPython"):
        TargetEnvironment.from_probe(LINUX_AMD64, {**_probe(), "implementation": "pypy"})
    with pytest.raises(ResolutionError, match="neither glibc nor musl"):
        TargetEnvironment.from_probe(LINUX_AMD64, {**_probe(), "libc": None})


def test_from_config_arm64() -> None:
    target = TargetEnvironment.from_config(LINUX_ARM64)
    assert target.markers["platform_machine"] == "aarch64"
    assert target.markers["python_version"] == "3.11"
    assert set(target.markers) == set(MARKER_KEYS)
    tags = [str(t) for t in target.tags]
    assert tags[0] == "cp311-cp311-manylinux_2_36_aarch64"
    assert "cp311-abi3-manylinux2014_aarch64" in tags
    assert "cp311-cp311-manylinux_2_16_aarch64" not in tags  # aarch64 starts at 2.17
    assert not any("x86_64" in t or "musllinux" in t for t in tags)
    # Best first: a specific wheel beats abi3, which beats pure Python.
    assert (
        tags.index("cp311-cp311-manylinux_2_28_aarch64")
        < tags.index("cp311-abi3-manylinux_2_28_aarch64")
        < tags.index("py3-none-any")
    )


def test_musl_and_free_threaded_tags() -> None:
    musl = compute_tags(LINUX_AMD64, (3, 12), ("musl", (1, 2)))
    assert Tag("cp312", "cp312", "musllinux_1_2_x86_64") == musl[0]
    assert not any("manylinux" in t.platform for t in musl)
    threaded = compute_tags(LINUX_AMD64, (3, 13), ("glibc", (2, 36)), gil_disabled=True)
    assert threaded[0] == Tag("cp313", "cp313t", "manylinux_2_36_x86_64")
    assert not any(t.abi == "abi3" for t in threaded)


def test_json_round_trip() -> None:
    target = TargetEnvironment.from_probe(LINUX_AMD64, _probe())
    assert TargetEnvironment.from_json(target.to_json()) == target
    config = TargetEnvironment.from_config(LINUX_ARM64, (3, 12), ("musl", (1, 2)))
    assert TargetEnvironment.from_json(config.to_json()) == config


def test_bad_config_and_cache() -> None:
    with pytest.raises(ConfigError, match="unknown libc"):
        TargetEnvironment.from_config(LINUX_AMD64, libc=("bionic", (1, 0)))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="not JSON"):
        TargetEnvironment.from_json("{")


def test_a_base_with_another_python_on_the_build_platform_is_refused() -> None:
    # The venvs are made, and their bytecode compiled, by the build platform's Python.
    from containerize.engine import probes  # noqa: PLC0415

    amd64 = TargetEnvironment.from_config(LINUX_AMD64, (3, 11))
    same = TargetEnvironment.from_config(LINUX_ARM64, (3, 11))
    probes.check_build_platform("base@sha256:" + "a" * 64, (amd64, same), "amd64")
    newer = TargetEnvironment.from_config(LINUX_ARM64, (3, 12))
    wrong = re.escape("has Python 3.12 at /usr/bin/python3 for linux/arm64 ")
    with pytest.raises(EngineError, match=wrong):
        probes.check_build_platform("base@sha256:" + "a" * 64, (amd64, newer), "amd64")
    elsewhere = TargetEnvironment.from_config(
        LINUX_ARM64, (3, 11), interpreter="/usr/local/bin/python3"
    )
    wrong = re.escape("but 3.11 at /usr/bin/python3 for linux/amd64")
    with pytest.raises(EngineError, match=wrong):
        probes.check_build_platform("base@sha256:" + "a" * 64, (amd64, elsewhere), "amd64")
