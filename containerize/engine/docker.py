"""The one way containerize reaches the engine: the docker CLI.

Every engine command is spelled here, as an argv list that goes through
:mod:`containerize.process`. Code above this module asks for what it needs (a build,
an image inspection) and never writes ``docker`` itself, so a test can
tell from what it imports whether it needs an engine, and another engine client would
replace this module alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any, TypeVar

from containerize import process

BINARY = "docker"
_T = TypeVar("_T")


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


def read(*args: str, read: Callable[[IO[bytes]], _T], **options: Any) -> _T:
    """Run ``docker ARGS...`` and hand its output to *read*, which may stop early
    (:func:`containerize.process.run_reading`)."""
    return process.run_reading(argv(*args), read, **options)
