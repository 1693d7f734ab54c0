"""The one way containerize reaches the engine: the docker CLI.

Every engine command is spelled here, as an argv list that goes through
:mod:`containerize.process`. Code above this module asks for what it needs (a build,
an image inspection, a saved image) and never writes ``docker`` itself, so a test can
tell from what it imports whether it needs an engine, and another engine client would
replace this module alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO, Any

from containerize import process

BINARY = "docker"


def argv(*args: str) -> list[str]:
    """``docker ARGS...``."""
    return [BINARY, *args]


def buildx_argv(*args: str, builder: str | None = None) -> list[str]:
    """``docker buildx [--builder NAME] ARGS...``."""
    return argv("buildx", *(["--builder", builder] if builder else []), *args)


def run(*args: str, **options: Any) -> process.Completed:
    """Run ``docker ARGS...`` through the process chokepoint (same options)."""
    return process.run(argv(*args), **options)


def buildx(*args: str, builder: str | None = None, **options: Any) -> process.Completed:
    """Run ``docker buildx [--builder NAME] ARGS...``."""
    return process.run(buildx_argv(*args, builder=builder), **options)


@contextmanager
def save(refs: Sequence[str]) -> Iterator[IO[bytes]]:
    """``docker save REFS...`` as a binary stream (an OCI layout in a tar)."""
    with process.reading(argv("save", *refs)) as stream:
        yield stream
