"""The one place where containerize runs external commands, and how a run stops.

Commands are argv lists, never shell strings. Each run is logged shell-quoted; a
failure raises :class:`~containerize.errors.CommandError` carrying the argv, the exit
code and the tail of the output, so the user sees why without digging through a log.

Stopping: within :func:`interruptible` (``cli.main`` holds it), SIGINT and SIGTERM
raise :class:`~containerize.errors.Interrupted` in the main thread at once, and every
cleanup on the way out runs. An interrupted run terminates the command it was running,
then kills it if it is still there after a short grace. A command whose output is
captured runs in its own process group, and the whole group is stopped (whatever it
started too); one that writes to the terminal (``docker buildx build``'s progress)
stays in the terminal's foreground group, where Ctrl-C reaches it directly and a
terminal can be driven without SIGTTOU. Steps that must not be split (the two renames
that swap a folder into place) hold signals with :func:`uninterrupted`.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import IO, Any, TypeVar

from containerize.errors import CommandError, Interrupted

logger = logging.getLogger("containerize")
_T = TypeVar("_T")

_TAIL_LINES = 25
# Lines of build progress kept to explain a failure (BuildKit's plain log of a large
# build runs to thousands of lines; the failing step's are near the end).
_TEE_LINES = 20000
#: How long a command gets to exit after SIGTERM before it is killed.
STOP_GRACE = 0.5
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


# --------------------------------------------------------------------------- signals


@dataclass(kw_only=True)
class _SignalState:
    active: bool = False
    raised: int | None = None  # the signal already turned into Interrupted
    held: int = 0  # depth of uninterrupted() blocks
    pending: int | None = None  # a signal that arrived while held


_state = _SignalState()


@contextmanager
def interruptible() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` in the main thread.

    A second signal while the first one's cleanup runs ends the process at once (the
    next run removes what it leaves). Outside the main thread this does nothing: only
    the main thread can handle signals.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.getsignal(signum) for signum in _STOP_SIGNALS}
    for signum in _STOP_SIGNALS:
        signal.signal(signum, _on_signal)
    _state.active = True
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        _state.active, _state.raised, _state.held, _state.pending = False, None, 0, None


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _state.held:
        if _state.pending is None:
            _state.pending = signum
        return
    if _state.raised is not None:
        sys.stderr.write(
            f"containerize: {signal.Signals(signum).name} again: stopping now, without "
            "cleaning up (the next run removes what is left)\n"
        )
        sys.stderr.flush()
        os._exit(128 + signum)
    _state.raised = signum
    raise Interrupted(signum)


@contextmanager
def uninterrupted() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then raise :class:`Interrupted`
    if one came: for steps that must not be split. Only the main thread is held."""
    if not _state.active or threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.held += 1
    try:
        yield
    finally:
        _state.held -= 1
        signum = None if _state.held else _state.pending
        if signum is not None:
            # The user asked to stop: that wins over whatever the block raised.
            _state.pending, _state.raised = None, signum
            raise Interrupted(signum)


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
    pipe = subprocess.PIPE if capture else None
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=full_env,
            stdin=subprocess.PIPE if input is not None else None,
            stdout=pipe,
            stderr=pipe,
            text=True,
            process_group=0 if capture else None,
        )
    except FileNotFoundError as exc:
        raise _not_found(argv, hint) from exc
    with proc:
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            stop(proc, group=capture)
            output = _leftover_output(proc)
            raise CommandError(
                f"command timed out after {timeout:g}s: {quote(argv)}",
                argv=argv,
                returncode=-1,
                output_tail=tail(output),
                hint=hint,
            ) from None
        except BaseException as exc:
            _stopped(proc, argv, exc, group=capture)
            raise
    result = Completed(
        argv=argv,
        returncode=proc.returncode,
        stdout=stdout or "",
        stderr=stderr or "",
    )
    if check and proc.returncode != 0:
        raise CommandError(
            f"command failed with exit code {proc.returncode}: {quote(argv)}",
            argv=argv,
            returncode=proc.returncode,
            output_tail=tail(result.stderr + "\n" + result.stdout) if capture else "",
            output=result.stderr + "\n" + result.stdout if capture else "",
            hint=hint,
        )
    return result


class Started:
    """A command running beside containerize's own work (:func:`start`): its output
    captured, in its own process group, so that :meth:`stop` stops all of it."""

    def __init__(self, argv: tuple[str, ...], proc: subprocess.Popen[str]) -> None:
        self.argv = argv
        self.proc = proc

    def finish(self, *, timeout: float | None = None) -> Completed:
        """Wait for it to end; stopped (and :class:`CommandError`) after *timeout*
        seconds, stopped on anything raised while waiting. Its exit code is not checked."""
        try:
            stdout, stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop(self.proc, group=True)
            output = _leftover_output(self.proc)
            self.stop()
            raise CommandError(
                f"command timed out after {timeout:g}s: {quote(self.argv)}",
                argv=self.argv,
                returncode=-1,
                output_tail=tail(output),
            ) from None
        except BaseException:
            self.stop()
            raise
        return Completed(
            argv=self.argv, returncode=self.proc.returncode, stdout=stdout, stderr=stderr
        )

    def stop(self) -> None:
        """Stop it and whatever it started, if it is still running; its output is
        dropped."""
        if self.proc.poll() is None:
            stop(self.proc, group=True)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def start(argv: Sequence[str]) -> Started:
    """Start *argv* and return at once; :meth:`Started.finish` collects it."""
    argv = tuple(str(arg) for arg in argv)
    logger.info("$ %s &", quote(argv))
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            process_group=0,
        )
    except FileNotFoundError as exc:
        raise _not_found(argv, None) from exc
    return Started(argv, proc)


def run_teed(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    keep: int = _TEE_LINES,
    hint: str | None = None,
) -> Completed:
    """Run *argv* with its standard error shown as it comes and kept (the last *keep*
    lines), for build progress a failure must be explained from.

    Standard output goes to the terminal. The command stays in the terminal's
    foreground group, like an uncaptured :func:`run`. A failure raises
    :class:`CommandError` whose ``output`` holds the kept lines.
    """
    argv = tuple(str(arg) for arg in argv)
    logger.info("$ %s", quote(argv))
    full_env = None if env is None else {**os.environ, **env}
    kept: deque[str] = deque(maxlen=keep)
    try:
        proc = subprocess.Popen(
            argv, env=full_env, stderr=subprocess.PIPE, text=True, errors="replace"
        )
    except FileNotFoundError as exc:
        raise _not_found(argv, hint) from exc
    with proc:
        assert proc.stderr is not None
        try:
            for line in proc.stderr:
                sys.stderr.write(line)
                kept.append(line)
            proc.wait()
        except BaseException as exc:
            _stopped(proc, argv, exc, group=False)
            raise
        finally:
            sys.stderr.flush()
    output = "".join(kept)
    if proc.returncode != 0:
        raise CommandError(
            f"command failed with exit code {proc.returncode}: {quote(argv)}",
            argv=argv,
            returncode=proc.returncode,
            output_tail=tail(output),
            output=output,
            hint=hint,
        )
    return Completed(argv=argv, returncode=0, stdout="", stderr=output)


def run_reading(
    argv: Sequence[str],
    read: Callable[[IO[bytes]], _T],
    *,
    timeout: float | None = None,
    hint: str | None = None,
) -> _T:
    """Run *argv* and hand its standard output, as a byte stream, to *read*.

    *read* may stop before the end (a large ``docker save`` whose first files say
    enough): the command is then stopped, which is not a failure. A command that
    fails, or is still running after *timeout* seconds (it is stopped then), raises
    :class:`CommandError` with the tail of its standard error.
    """
    argv = tuple(str(arg) for arg in argv)
    logger.info("$ %s", quote(argv))
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, process_group=0)
        except FileNotFoundError as exc:
            raise _not_found(argv, hint) from exc
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            _signal(proc, signal.SIGKILL, group=True)

        timer = threading.Timer(timeout, expire) if timeout is not None else None
        with proc:
            assert proc.stdout is not None
            if timer is not None:
                timer.start()
            result: _T | None = None
            failure: Exception | None = None
            try:
                try:
                    result = read(proc.stdout)
                except Exception as exc:  # the command's own error, if any, comes first
                    failure = exc
                    with suppress(subprocess.TimeoutExpired):
                        proc.wait(4 * STOP_GRACE)  # the end of its output: it is exiting
                stopped = proc.poll() is None
                if stopped:
                    stop(proc, group=True)  # *read* has what it needs
            except BaseException as exc:
                _stopped(proc, argv, exc, group=True)
                raise
            finally:
                if timer is not None:
                    timer.cancel()
        errors.seek(0)
        stderr = errors.read().decode(errors="replace")
    if expired.is_set():
        raise CommandError(
            f"command timed out after {timeout:g}s: {quote(argv)}",
            argv=argv,
            returncode=-1,
            output_tail=tail(stderr),
            hint=hint,
        )
    if not stopped and proc.returncode != 0:
        raise CommandError(
            f"command failed with exit code {proc.returncode}: {quote(argv)}",
            argv=argv,
            returncode=proc.returncode,
            output_tail=tail(stderr),
            output=stderr,
            hint=hint,
        )
    if failure is not None:
        raise failure
    return result  # type: ignore[return-value]


def _not_found(argv: tuple[str, ...], hint: str | None) -> CommandError:
    return CommandError(
        f"command not found: {argv[0]}",
        argv=argv,
        returncode=127,
        hint=hint or f"install {argv[0]!r} or put it on PATH",
    )


def _stopped(
    proc: subprocess.Popen[Any], argv: tuple[str, ...], exc: BaseException, *, group: bool
) -> None:
    """Stop *proc*, interrupted by *exc*; an interruption says what it stopped."""
    stop(proc, group=group)
    if isinstance(exc, Interrupted):
        exc.doing(f"running {short(argv)}")
        exc.note("stopped it")


def short(argv: Sequence[str], words: int = 3) -> str:
    """The start of *argv* as a shell line, for a message that names a command."""
    shown = quote(argv[:words])
    return shown + " ..." if len(argv) > words else shown


def stop(proc: subprocess.Popen[Any], *, group: bool, grace: float = STOP_GRACE) -> None:
    """Terminate *proc* (with its process *group*, when it leads one); kill what is left
    after *grace* seconds."""
    _signal(proc, signal.SIGTERM, group=group)
    with suppress(subprocess.TimeoutExpired):
        proc.wait(grace)
    if group:
        # The leader may have gone while something it started ignores SIGTERM.
        _signal(proc, signal.SIGKILL, group=True)
    elif proc.poll() is None:
        proc.kill()
    proc.wait()


def _signal(proc: subprocess.Popen[Any], signum: int, *, group: bool) -> None:
    with suppress(ProcessLookupError, PermissionError):
        if group:
            os.killpg(proc.pid, signum)
        elif proc.poll() is None:
            proc.send_signal(signum)


def _leftover_output(proc: subprocess.Popen[Any]) -> str:
    """What a stopped command had written, if its pipes close promptly."""
    try:
        stdout, stderr = proc.communicate(timeout=STOP_GRACE)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        return ""
    return f"{stderr or ''}\n{stdout or ''}"
