"""The base image, pulled into the engine's store beside containerize's own work.

An empty engine (a fresh CI runner) must pull and unpack the base image before the
first build step that runs on it (the app's import check) or exports it: with the
``docker`` driver, dockerd unpacks every image a build exports into its store, for
``--push`` as for ``--load``, so even a build whose every step is a cache hit needs the
base's layers unpacked. BuildKit does that only when it reaches that step, after
containerize has fetched the wheelhouse, compiled and written the build context.
:func:`start` begins the pull as soon as the base is known, beside that work: right
after the preflight when ``containerize.lock`` records its pin (:func:`recorded`),
else once the preparation has pinned it; :func:`wait`, called before a build starts,
joins it, so that BuildKit finds the layers there and unpacked (BuildKit starting
while the pull runs was measured slower: both unpack the same layers). A pull not
begun yet when the build starts is called off (the checks before it were still
running: on a warm engine they would only delay the build), and BuildKit pulls.

Only for a builder of the ``docker`` driver, whose BuildKit shares the engine's image
store: other drivers keep their own content, which a ``docker pull`` would not fill.
An engine that has the image already pulls nothing. The pull is by digest, exactly the
image the build is pinned to, and it leaves the image in the engine's store, as a pull
by hand would. A pull that fails is said and left: BuildKit pulls what it needs itself,
and says why if it cannot. Pulls not waited for (a build that stopped before buildx
ran) are stopped when containerize exits.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from containerize import process, reference
from containerize.engine import docker
from containerize.engine.builders import parse_inspect
from containerize.errors import ContainerizeError
from containerize.platforms import Platform

logger = logging.getLogger(__name__)

#: How long one platform's pull may take before it is stopped (BuildKit then pulls).
PULL_TIMEOUT = 600.0


@dataclass(kw_only=True)
class _Pull:
    """One base image being pulled, platform after platform, in a thread."""

    image: str
    platforms: tuple[Platform, ...]
    builder: str | None
    began: float = field(default_factory=time.monotonic)
    said: list[str] = field(default_factory=list)
    running: process.Started | None = None
    stopped: bool = False
    #: Found with nothing to pull: the builder keeps its own store, or the engine's
    #: store has the image already.
    needless: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None

    def run(self) -> None:
        try:
            self._run()
        except ContainerizeError as exc:
            self.said.append(f"{exc.message}; the build pulls it itself")
        except OSError as exc:
            self.said.append(f"{exc}; the build pulls it itself")

    def _run(self) -> None:
        driver = _drivers.get(self.builder)
        if driver is None:  # no preflight told: ask buildx
            inspected = docker.buildx("inspect", builder=self.builder, timeout=60).stdout
            driver = parse_inspect(inspected).driver
        if driver != "docker":
            self.needless = True  # its BuildKit keeps its own content: nothing to pull into
            return
        ref = by_digest(self.image)
        present = docker.run(
            "image", "inspect", "--format", "{{.Id}}", ref, check=False, timeout=60
        )
        if present.returncode == 0:
            self.needless = True
            return
        for platform in self.platforms:
            with self.lock:
                if self.stopped:
                    return
                self.running = process.start(
                    docker.argv("pull", "--quiet", "--platform", str(platform), ref)
                )
            done = self.running.finish(timeout=PULL_TIMEOUT)
            seconds = time.monotonic() - self.began
            if done.returncode != 0:
                why = process.tail(done.stderr + done.stdout, 3).strip() or "no output"
                self.said.append(
                    f"pulling the base image {ref} ({platform}) early failed: {why}; "
                    "the build pulls it itself"
                )
                return
            self.said.append(
                f"pulled the base image {ref} ({platform}) beside the build's preparation "
                f"({seconds:.1f}s after it began)"
            )

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
            running = self.running
        if running is not None:
            running.stop()


_lock = threading.Lock()
_pending: list[_Pull] = []
#: The driver of each builder a preflight inspected in this process (None: the current
#: one), so that a pull does not ask buildx again.
_drivers: dict[str | None, str] = {}


def remember_driver(builder: str | None, driver: str) -> None:
    """Note *builder*'s driver, as the preflight found it."""
    _drivers[builder] = driver


def start(image: str, platforms: Sequence[Platform], *, builder: str | None) -> None:
    """Begin pulling the base *image* for *platforms* into the engine's store, if
    *builder* builds there and the store lacks it; returns at once.

    A pull of the same image for the same builder and platforms begun already (from
    the recorded pin) goes on; one of another image is stopped: the build does not
    use it (the base was pinned anew)."""
    pull = _Pull(image=image, platforms=tuple(platforms), builder=builder)
    with _lock:
        if any(_covers(begun, pull) for begun in _pending):
            return
        stale = list(_pending)
        _pending[:] = [pull]
    for begun in stale:
        begun.stop()
        logger.info("stopped the early pull of %s: the build uses %s", begun.image, image)
    pull.thread = threading.Thread(target=pull.run, name="containerize-base-pull", daemon=True)
    pull.thread.start()


def _covers(begun: _Pull, pull: _Pull) -> bool:
    return (
        begun.image == pull.image
        and begun.builder == pull.builder
        and set(pull.platforms) <= set(begun.platforms)
        and not begun.stopped
    )


def recorded(base_image: str, pins: Mapping[str, str]) -> str | None:
    """*base_image* pinned by digest as far as it is known before the build's
    preparation: as written with one, or with the digest *pins* (``containerize.lock``'s
    ``[base-images]``) record for it; None when the preparation has to ask its registry."""
    if "@" in base_image:
        return base_image
    digest = pins.get(base_image)
    return f"{base_image}@{digest}" if digest else None


def wait() -> None:
    """Join every pull :func:`start` began (before a build starts), and say how each went."""
    with _lock:
        pending = list(_pending)
        _pending.clear()
    waited = time.monotonic()
    for pull in pending:
        with pull.lock:
            if pull.running is None and not pull.stopped:
                pull.stopped = True  # not begun: the build would only wait for the checks
                if not pull.needless:
                    pull.said.append(
                        f"no early pull of the base image {pull.image}: the check of the "
                        "engine's store had not ended as the build started"
                    )
    try:
        for pull in pending:
            assert pull.thread is not None
            pull.thread.join()
    except BaseException:
        for pull in pending:
            pull.stop()
        raise
    for pull in pending:
        for line in pull.said:
            logger.info("%s", line)
    if pending:
        logger.info("waited %.1fs for the base image's pull", time.monotonic() - waited)


def stop_all() -> None:
    """Stop every pull not waited for."""
    with _lock:
        pending = list(_pending)
        _pending.clear()
    for pull in pending:
        pull.stop()


atexit.register(stop_all)


def by_digest(image: str) -> str:
    """*image* as ``repository@digest`` when it names a digest (a tag beside it is
    dropped: the digest says which image), else as given."""
    ref = reference.parse(image, where="base image")
    if ref.digest is None:
        return image
    return f"{ref.repository}@{ref.digest}"
