"""How many workers a container gets: its CPUs (cgroup quota, cpuset), its memory limit
(cgroup v2 or v1), and what the build measured the loaded app to hold; with the
variables and the image's settings that say otherwise. containerize_start.py sizes the
server with :func:`size_workers` and says where the count came from.

This file runs in the image: standard library only, no containerize imports.
"""

from __future__ import annotations

import math
import os
import sys

# Not typing's TYPE_CHECKING: importing typing is a few milliseconds of every start.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The worker count's variables, the first set wins; then the image's, then the formula.
WORKERS = ("WSGI_WORKERS", "WEB_CONCURRENCY")
WORKERS_RANGE = (1, 1024)
MIB = 1024 * 1024
# cgroup v1 says "no limit" with a page-rounded LONG_MAX (9223372036854771712), and a
# limit above the machine's memory means none either: anything this big is no limit.
_NO_LIMIT = 1 << 60


class StartError(Exception):
    """A bad setting or a failed hook: one line for the log, and an exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def log(message: str) -> None:
    print(f"containerize: {message}", file=sys.stderr, flush=True)


# --- CPUs -------------------------------------------------------------------------


def cgroup_cpu_limit(root: str = "/sys/fs/cgroup") -> float | None:
    """The container's CPU quota in CPUs, or None when it has none.

    cgroup v2 has ``cpu.max`` ("max 100000" or "150000 100000"); cgroup v1 has
    ``cpu.cfs_quota_us`` (-1 for none) and ``cpu.cfs_period_us`` under ``cpu/`` (or
    ``cpu,cpuacct/``). ``os.cpu_count()`` sees neither (Gunicorn issue #2877).
    """
    v2 = _read(os.path.join(root, "cpu.max"))
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        if quota == "max" or not quota.isdigit() or not period.strip().isdigit():
            return None
        return int(quota) / int(period) if int(period) else None
    for folder in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
        quota_text = _read(os.path.join(root, folder, "cpu.cfs_quota_us"))
        period_text = _read(os.path.join(root, folder, "cpu.cfs_period_us"))
        if quota_text is None or period_text is None:
            continue
        try:
            quota_us, period_us = int(quota_text), int(period_text)
        except ValueError:
            return None
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    return None


def available_cpus(root: str = "/sys/fs/cgroup") -> int:
    """Whole CPUs this container may use: the cpuset, capped by the quota (rounded up)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit(root)
    if limit is not None:
        cpus = min(cpus, math.ceil(limit))
    return max(1, cpus)


# --- memory -----------------------------------------------------------------------


def cgroup_memory_limit(root: str = "/sys/fs/cgroup") -> int | None:
    """The container's memory limit in bytes, or None when it has none.

    cgroup v2 has ``memory.max`` ("max" or bytes); cgroup v1 has
    ``memory/memory.limit_in_bytes``, where no limit is a huge number.
    """
    text = _read(os.path.join(root, "memory.max"))
    if text is None:
        text = _read(os.path.join(root, "memory", "memory.limit_in_bytes"))
    if text is None or not text.isdigit():
        return None
    limit = int(text)
    return limit if 0 < limit < _NO_LIMIT else None


class AppMemory:
    """What the build's import check measured one process to hold once it had loaded
    the app (``memory_mib`` in its verdict), and whether the server's master loads it
    too (preloading)."""

    __slots__ = ("mib", "preloaded")

    def __init__(self, mib: int, *, preloaded: bool) -> None:
        self.mib = mib
        self.preloaded = preloaded

    @classmethod
    def of(cls, verdict: dict[str, Any] | None, *, preloaded: bool) -> AppMemory | None:
        mib = (verdict or {}).get("memory_mib")
        return cls(mib, preloaded=preloaded) if isinstance(mib, int) and mib > 0 else None


#: A worker that serves holds more than the app after its import: its requests'
#: objects, caches filled, the master's pages it has written to. A Django project
#: (containerize's as-found fixture of a job site): 73 MiB of anonymous memory after
#: the import, workers of 106 MiB resident (83 proportional) after a burst.
WORKER_ROOM = 1.25
_STEP_MIB = 8


def memory_needs(
    spec: dict[str, Any], environ: dict[str, str], worker_mib: int, app: AppMemory | None
) -> tuple[int, int, str]:
    """MiB a worker and MiB the server needs besides its workers, with what the build
    measured of the app counted; and a line that says how (empty: nothing measured).

    A worker is at least the app with room to serve (:data:`WORKER_ROOM`), unless the
    project or ``WSGI_WORKER_MEMORY`` states its size; a master that preloads holds
    the app too, as does the one process of a server whose workers are threads.
    """
    defaults = spec.get("settings", {})
    reserve = int(defaults.get("memory_reserve") or 0)
    if app is None:
        return worker_mib, reserve, ""
    serving = -(-int(app.mib * WORKER_ROOM) // _STEP_MIB) * _STEP_MIB
    if spec.get("workers_are_threads"):
        reserve = max(reserve, serving)
        return (
            worker_mib,
            reserve,
            (
                f"memory: the app holds {app.mib} MiB loaded (the build's import check); "
                f"its one process is counted at {reserve} MiB"
            ),
        )
    stated = bool(environ.get("WSGI_WORKER_MEMORY", "").strip()) or bool(
        defaults.get("worker_memory_stated")
    )
    if not stated:
        worker_mib = max(worker_mib, serving)
    if app.preloaded:
        reserve += app.mib
    return (
        worker_mib,
        reserve,
        (
            f"memory: the app holds {app.mib} MiB loaded (the build's import check); a worker "
            f"is counted at {worker_mib} MiB"
            + (" (as stated)" if stated else "")
            + (
                f", and the preloading master's {app.mib} MiB with the server's own"
                if app.preloaded
                else ""
            )
        ),
    )


def size_workers(
    spec: dict[str, Any],
    environ: dict[str, str],
    cpus: int,
    memory: int | None,
    worker_mib: int,
    *,
    reserve: int | None = None,
    measured: str = "",
) -> tuple[int, str]:
    """The worker count and where it came from, for the start line.

    A variable wins (``WSGI_WORKERS``, then ``WEB_CONCURRENCY``), then the image's
    ``workers``, then 2 x *cpus* + 1 capped by what *memory* (bytes, None: no limit)
    holds at *worker_mib* MiB a worker after *reserve* MiB (default: the server's). A
    limit that holds no worker at all is a StartError; *measured* (:func:`memory_needs`)
    says how the app's own memory was counted.
    """
    defaults = spec.get("settings", {})
    if reserve is None:
        reserve = int(defaults.get("memory_reserve") or 0)
    fits = None
    if memory is not None:
        fits = (memory // MIB - reserve) // worker_mib
        if fits < 1:
            raise StartError(
                f"the container's memory limit, {memory // MIB} MiB, is too small for one "
                f"worker: {spec['server']} needs {reserve} MiB for itself and {worker_mib} MiB "
                f"a worker; raise the limit (docker run --memory) to at least "
                f"{reserve + worker_mib} MiB, or lower WSGI_WORKER_MEMORY if this app's "
                "workers are smaller" + (f"; {measured}" if measured else "")
            )
        if measured:
            log(measured)
    for variable in WORKERS:
        told = whole_number(environ, variable, *WORKERS_RANGE)
        if told is not None:
            return _kept(told, variable, fits, memory)
    if defaults.get("workers") is not None:
        return _kept(int(defaults["workers"]), "the image's workers setting", fits, memory)
    by_cpus = 2 * cpus + 1
    if fits is not None and fits < by_cpus:
        assert memory is not None
        return fits, (
            f"memory: a {memory // MIB} MiB limit holds {fits} at {worker_mib} MiB a worker; "
            f"{by_cpus} by CPUs"
        )
    return by_cpus, f"2 x {cpus} CPUs + 1"


def whole_number(environ: dict[str, str], variable: str, low: int, high: int) -> int | None:
    """*variable*'s whole number from *low* to *high*; None when it is unset or empty;
    anything else is a StartError that says what to write."""
    text = environ.get(variable, "").strip()
    if not text:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise StartError(
            f"{variable}={text!r} is not a whole number from {low} to {high}; "
            f"set it to one, or unset it for the default"
        )
    return int(text)


def _kept(workers: int, source: str, fits: int | None, memory: int | None) -> tuple[int, str]:
    if fits is not None and workers > fits:
        assert memory is not None
        log(
            f"warning: {workers} workers ({source}) may not fit in the {memory // MIB} MiB "
            f"memory limit, which holds {fits}; workers may be killed for lack of memory"
        )
    return workers, source


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii") as file:
            return file.read().strip()
    except (OSError, UnicodeDecodeError):
        return None
