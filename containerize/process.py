"""The one place where containerize runs external commands.

Commands are argv lists, never shell strings. Each run is logged shell-quoted; a
failure raises :class:`~containerize.errors.CommandError` carrying the argv, the exit
code and the tail of the output, so the user sees why without digging through a log.
"""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from containerize.errors import CommandError

logger = logging.getLogger("containerize")

_TAIL_LINES = 25


@dataclass(frozen=True, kw_only=True)
class Completed:
    """The result of a command that ran to completion."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def quote(argv: Sequence[str]) -> str:
    """Return *argv* as a line a user could paste into a POSIX shell."""
    return shlex.join(argv)


def tail(text: str, lines: int = _TAIL_LINES) -> str:
    """Return the last *lines* non-empty lines of *text*."""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    capture: bool = True,
    check: bool = True,
    timeout: float | None = None,
    hint: str | None = None,
) -> Completed:
    """Run *argv* and return its result.

    With ``capture=False`` the command's output streams to the terminal (used for
    build progress); the error then carries no output tail. *env* is added to the
    current environment, not substituted for it.
    """
    argv = tuple(str(arg) for arg in argv)
    logger.info("$ %s", quote(argv))
    full_env = None if env is None else {**os.environ, **env}
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=full_env,
            input=input,
            text=True,
            capture_output=capture,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CommandError(
            f"command not found: {argv[0]}",
            argv=argv,
            returncode=127,
            hint=hint or f"install {argv[0]!r} or put it on PATH",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raw = exc.stdout or ""
        output = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
        raise CommandError(
            f"command timed out after {timeout:g}s: {quote(argv)}",
            argv=argv,
            returncode=-1,
            output_tail=tail(output),
            hint=hint,
        ) from exc
    result = Completed(
        argv=argv,
        returncode=proc.returncode,
        stdout=proc.stdout or "",
        stderr=proc.stderr or "",
    )
    if check and proc.returncode != 0:
        raise CommandError(
            f"command failed with exit code {proc.returncode}: {quote(argv)}",
            argv=argv,
            returncode=proc.returncode,
            output_tail=tail(result.stderr + "\n" + result.stdout) if capture else "",
            hint=hint,
        )
    return result


@contextmanager
def reading(argv: Sequence[str], *, hint: str | None = None) -> Iterator[IO[bytes]]:
    """Run *argv* and yield its standard output as a binary stream (``docker save``).

    The command is waited for when the block ends; a non-zero exit raises
    :class:`CommandError` with the tail of its standard error.
    """
    argv = tuple(str(arg) for arg in argv)
    logger.info("$ %s", quote(argv))
    # Standard error goes to a file: a full pipe nobody reads would stall the command.
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors)
        except FileNotFoundError as exc:
            raise CommandError(
                f"command not found: {argv[0]}", argv=argv, returncode=127, hint=hint
            ) from exc
        failure: Exception | None = None
        # Popen's own context closes the pipe and waits, even if the reader fails.
        with proc:
            assert proc.stdout is not None
            try:
                yield proc.stdout
                proc.stdout.read()  # drain what the reader left, so the command can finish
            except Exception as exc:  # the failed command, if it failed, explains it better
                failure = exc
        returncode = proc.returncode
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if returncode != 0:
        raise CommandError(
            f"command failed with exit code {returncode}: {quote(argv)}",
            argv=argv,
            returncode=returncode,
            output_tail=tail(stderr),
            hint=hint,
        ) from failure
    if failure is not None:
        raise failure
