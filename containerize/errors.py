"""The one exception hierarchy of containerize.

Every error a user can cause or meet carries a message that says what went wrong and
where, an optional hint that says how to fix it, and the exit code the command line
returns. Only ``containerize.cli.main`` and the Nox sessions catch these.
"""

from __future__ import annotations

import signal
from collections.abc import Sequence


class ContainerizeError(Exception):
    """Base class: a failure explained to the user, never shown as a traceback."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigError(ContainerizeError):
    """``[tool.containerize]``, ``pyproject.toml`` or a command-line value is invalid."""

    exit_code = 2


class LockError(ContainerizeError):
    """A lock file is unreadable, malformed, or does not match ``pyproject.toml``."""

    exit_code = 3


class ResolutionError(ContainerizeError):
    """The lock has no usable file for a target platform."""

    exit_code = 3


class FetchError(ContainerizeError):
    """A file could not be downloaded, or its hash does not match the lock."""

    exit_code = 4


class EngineError(ContainerizeError):
    """The container engine (docker, buildx, BuildKit) is missing or misbehaves."""

    exit_code = 5


class ProvisionError(EngineError):
    """The engine could not be provisioned on this host."""


class CommandError(ContainerizeError):
    """An external command exited non-zero."""

    exit_code = 6

    def __init__(
        self,
        message: str,
        *,
        argv: Sequence[str],
        returncode: int,
        output_tail: str = "",
        output: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.argv = tuple(argv)
        self.returncode = returncode
        self.output_tail = output_tail
        self.output = output  # what was captured, whole, when it was

    def __str__(self) -> str:
        text = self.message
        if self.output_tail:
            indented = "\n".join(f"    {line}" for line in self.output_tail.splitlines())
            text += f"\n  last lines of output:\n{indented}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class BuildError(CommandError):
    """A ``docker buildx build`` failed; the message names the stage, the platform and
    the sdist being compiled, and shows the failing step's own last lines (without
    BuildKit's prefixes), not the whole log."""

    def __init__(
        self,
        message: str,
        *,
        argv: Sequence[str],
        returncode: int,
        lines: Sequence[str] = (),
        cause: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, argv=argv, returncode=returncode, hint=hint)
        self.lines = tuple(lines)
        self.cause = cause

    def __str__(self) -> str:
        text = self.message
        if self.cause:
            text += f"\n  cause: {self.cause}"
        if self.lines:
            indented = "\n".join(f"    {line}" for line in self.lines)
            text += f"\n  last lines of the step:\n{indented}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


class ContainerTestError(ContainerizeError):
    """A container in the test matrix failed to start, answer or stop."""

    exit_code = 7


class ReleaseError(ContainerizeError):
    """A release was refused or could not finish; no moving tag was moved."""

    exit_code = 8


class RegistryError(ReleaseError):
    """A registry could not be reached, refused a request, or answered something invalid."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: the run stops at once, cleaning up on its way out.

    A :class:`BaseException`, like :class:`KeyboardInterrupt`, so that no ``except
    Exception`` swallows it. Code that knows what it was doing says so with
    :meth:`doing` (the innermost caller speaks first) and what its cleanup did with
    :meth:`note`; ``cli.main`` prints it all as one line and exits with 128 + the signal
    number: 130 for SIGINT, 143 for SIGTERM.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.during: str | None = None
        self.notes: list[str] = []

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal."""
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name

    def doing(self, what: str) -> None:
        """Record what was interrupted, unless something more precise already has."""
        if self.during is None:
            self.during = what

    def note(self, text: str) -> None:
        """Record what the cleanup did (or left behind)."""
        if text not in self.notes:
            self.notes.append(text)

    def line(self) -> str:
        """The one line a person reads."""
        text = f"interrupted by {self.signal_name}"
        if self.during:
            text += f" while {self.during}"
        if self.notes:
            text += "; " + "; ".join(self.notes)
        return text
