"""The base image's pull beside the build's preparation (engine/basepull.py), with a
docker CLI stand-in on PATH that answers as buildx 0.13 and dockerd 26 do and writes
down what it was asked; and the command run beside the main work (process.start)."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import pytest

from containerize import process
from containerize.engine import basepull
from containerize.errors import CommandError
from containerize.platforms import LINUX_AMD64, LINUX_ARM64

DATA = Path(__file__).parent / "data" / "buildx"
DIGEST = "sha256:" + "5" * 64
BASE = f"127.0.0.1:5000/containerize/python:3.11-bookworm@{DIGEST}"


@pytest.fixture(autouse=True)
def no_drivers_known(monkeypatch: pytest.MonkeyPatch) -> None:
    """No preflight ran in these tests: what another test's preflight found is gone."""
    monkeypatch.setattr(basepull, "_drivers", {})


@pytest.fixture
def docker_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``docker`` on PATH: ``buildx inspect`` prints the builder in $FAKE_INSPECT,
    ``image inspect`` fails unless $FAKE_PRESENT is set, ``pull`` takes $FAKE_PULL
    seconds and fails when $FAKE_PULL_FAILS is set; each call is a line of asked.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "docker"
    script.write_text(
        f"#!{sys.executable}\n"
        "import os, sys, time\n"
        "args = sys.argv[1:]\n"
        f"with open({str(tmp_path / 'asked.log')!r}, 'a') as log:\n"
        "    log.write(' '.join(args) + '\\n')\n"
        "if 'inspect' in args and args[0] == 'buildx':\n"
        "    time.sleep(float(os.environ.get('FAKE_INSPECT_DELAY', '0')))\n"
        "    print(open(os.environ['FAKE_INSPECT']).read())\n"
        "elif args[:2] == ['image', 'inspect']:\n"
        "    sys.exit(0 if os.environ.get('FAKE_PRESENT') else 1)\n"
        "elif args[:1] == ['pull']:\n"
        "    time.sleep(float(os.environ.get('FAKE_PULL', '0')))\n"
        "    if os.environ.get('FAKE_PULL_FAILS'):\n"
        "        print('toomanyrequests: slow down', file=sys.stderr)\n"
        "        sys.exit(1)\n"
        "    print(args[-1])\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_INSPECT", str(DATA / "docker-driver.txt"))
    return tmp_path / "asked.log"


def asked(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def test_the_base_is_pulled_by_digest_for_each_platform_and_waited_for(
    docker_cli: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PULL", "0.3")
    began = time.monotonic()
    basepull.start(BASE, [LINUX_AMD64, LINUX_ARM64], builder=None)
    assert time.monotonic() - began < 0.2  # it returns at once
    pulling(docker_cli)  # the build's preparation takes longer than the checks
    with caplog.at_level(logging.INFO, logger="containerize"):
        basepull.wait()
    ref = f"127.0.0.1:5000/containerize/python@{DIGEST}"
    assert asked(docker_cli) == [
        "buildx inspect",
        f"image inspect --format {{{{.Id}}}} {ref}",
        f"pull --quiet --platform linux/amd64 {ref}",
        f"pull --quiet --platform linux/arm64 {ref}",
    ]
    assert f"pulled the base image {ref} (linux/arm64) beside the build's preparation" in (
        caplog.text
    )
    assert "waited " in caplog.text
    basepull.wait()  # nothing left to wait for


def pulling(log: Path) -> None:
    """Return once the stand-in was asked to pull."""
    deadline = time.monotonic() + 10
    while not any(line.startswith("pull") for line in asked(log)):
        assert time.monotonic() < deadline, asked(log)
        time.sleep(0.02)


def test_a_pull_not_begun_as_the_build_starts_is_called_off(
    docker_cli: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A warm build reaches buildx before the checks end: it does not wait for them."""
    monkeypatch.setenv("FAKE_INSPECT_DELAY", "0.5")
    basepull.start(BASE, [LINUX_AMD64], builder=None)
    with caplog.at_level(logging.INFO, logger="containerize"):
        basepull.wait()
    assert "no early pull of the base image" in caplog.text
    assert not [line for line in asked(docker_cli) if line.startswith("pull")]


def test_the_driver_the_preflight_found_spares_asking_buildx(
    docker_cli: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    basepull.remember_driver("farm", "kubernetes")
    basepull.start(BASE, [LINUX_AMD64], builder="farm")
    basepull.wait()
    assert asked(docker_cli) == []  # kubernetes: nothing to pull into, nothing asked


def test_an_engine_that_has_the_image_pulls_nothing(
    docker_cli: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PRESENT", "1")
    basepull.start(BASE, [LINUX_AMD64], builder=None)
    (pull,) = basepull._pending
    assert pull.thread is not None
    pull.thread.join(10)  # the check of the store ended before the build starts
    with caplog.at_level(logging.INFO, logger="containerize"):
        basepull.wait()
    assert [line.split()[0] for line in asked(docker_cli)] == ["buildx", "image"]
    # Nothing to pull, and not said to be called off for a check that had ended.
    assert "no early pull" not in caplog.text


@pytest.mark.parametrize(
    "captured", ["kubernetes-two-nodes.txt", "remote-two-nodes.txt"]
)  # fmt: skip
def test_a_builder_with_its_own_store_gets_no_pull(
    captured: str, docker_cli: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_INSPECT", str(DATA / captured))
    basepull.start(BASE, [LINUX_AMD64, LINUX_ARM64], builder="farm")
    basepull.wait()
    assert asked(docker_cli) == ["buildx --builder farm inspect"]


def test_a_failed_pull_is_said_and_left_to_the_build(
    docker_cli: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PULL_FAILS", "1")
    basepull.start(BASE, [LINUX_AMD64, LINUX_ARM64], builder=None)
    pulling(docker_cli)
    with caplog.at_level(logging.INFO, logger="containerize"):
        basepull.wait()  # no error: BuildKit pulls what it needs itself
    assert "(linux/amd64) early failed: toomanyrequests: slow down; the build pulls it itself" in (
        caplog.text
    )
    # The first failure ends it: the second platform is not tried.
    assert [line for line in asked(docker_cli) if line.startswith("pull")] == [
        f"pull --quiet --platform linux/amd64 127.0.0.1:5000/containerize/python@{DIGEST}"
    ]


def test_a_pull_nobody_waits_for_is_stopped(
    docker_cli: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PULL", "30")
    basepull.start(BASE, [LINUX_AMD64], builder=None)
    pulling(docker_cli)
    began = time.monotonic()
    basepull.stop_all()  # as at exit
    basepull.wait()  # nothing pending any more
    assert time.monotonic() - began < 5


def test_by_digest_drops_the_tag_beside_a_digest() -> None:
    assert basepull.by_digest(BASE) == f"127.0.0.1:5000/containerize/python@{DIGEST}"
    assert basepull.by_digest("python:3.11-slim") == "python:3.11-slim"


def test_a_command_started_beside_the_work_is_collected_or_stopped() -> None:
    done = process.start([sys.executable, "-c", "print('ready')"]).finish(timeout=30)
    assert (done.returncode, done.stdout) == (0, "ready\n")
    slow = process.start([sys.executable, "-c", "import time; time.sleep(30)"])
    began = time.monotonic()
    with pytest.raises(CommandError, match=r"timed out after 0\.2s"):
        slow.finish(timeout=0.2)
    assert slow.proc.poll() is not None
    assert time.monotonic() - began < 5
    other = process.start([sys.executable, "-c", "import time; time.sleep(30)"])
    other.stop()
    assert other.proc.poll() is not None


def test_a_pull_begun_from_the_recorded_pin_is_not_begun_again(
    docker_cli: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pin in containerize.lock starts the pull after the preflight; the preparation,
    pinning the same image, finds it begun and leaves it to go on."""
    monkeypatch.setenv("FAKE_PULL", "0.3")
    basepull.start(BASE, [LINUX_AMD64, LINUX_ARM64], builder=None)
    pulling(docker_cli)
    basepull.start(BASE, [LINUX_AMD64], builder=None)  # the preparation's
    basepull.wait()
    ref = f"127.0.0.1:5000/containerize/python@{DIGEST}"
    assert [line for line in asked(docker_cli) if not line.startswith("buildx")] == [
        f"image inspect --format {{{{.Id}}}} {ref}",
        f"pull --quiet --platform linux/amd64 {ref}",
        f"pull --quiet --platform linux/arm64 {ref}",
    ]


def test_a_pull_of_another_base_is_stopped_for_the_one_the_build_uses(
    docker_cli: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The base was pinned anew (another digest than the one recorded): the early pull
    of the old one is stopped, the new one pulled, and the build waits for it alone."""
    monkeypatch.setenv("FAKE_PULL", "30")
    old = f"127.0.0.1:5000/containerize/python:3.11-bookworm@sha256:{'4' * 64}"
    basepull.start(old, [LINUX_AMD64], builder=None)
    pulling(docker_cli)
    monkeypatch.setenv("FAKE_PULL", "0")  # the stand-in reads it as each call starts
    began = time.monotonic()
    new = f"pull --quiet --platform linux/amd64 127.0.0.1:5000/containerize/python@{DIGEST}"
    with caplog.at_level(logging.INFO, logger="containerize"):
        basepull.start(BASE, [LINUX_AMD64], builder=None)
        while new not in asked(docker_cli):  # the build's preparation takes longer
            assert time.monotonic() - began < 10, asked(docker_cli)
            time.sleep(0.02)
        basepull.wait()
    assert time.monotonic() - began < 10  # not the 30s of the old one's pull
    assert f"stopped the early pull of {old}: the build uses {BASE}" in caplog.text
    assert f"pulled the base image 127.0.0.1:5000/containerize/python@{DIGEST}" in caplog.text


def test_recorded_is_the_base_as_far_as_it_is_pinned_before_the_preparation() -> None:
    tag = "127.0.0.1:5000/containerize/python:3.11-bookworm"
    assert basepull.recorded(tag, {tag: DIGEST}) == BASE
    assert basepull.recorded(BASE, {}) == BASE  # pinned where it is configured
    assert basepull.recorded(tag, {}) is None  # the preparation asks its registry
    assert basepull.recorded(tag, {"python:3.11-slim": DIGEST}) is None
