"""Target environments: the Python inside the base image, per platform.

Choosing files from a lock needs two facts about each target: the PEP 508 marker
environment (to decide which packages are needed) and the ordered wheel tags the
target's pip accepts (to pick the best wheel). Both come from running
:data:`PROBE_SCRIPT` in the base image (``docker run --platform P IMAGE python3 -c
PROBE_SCRIPT``); the tags are then computed here, on the host, with
``packaging.tags``, because the base image need not have ``packaging`` installed.
For dry runs without an engine, :meth:`TargetEnvironment.from_config` assumes a
CPython on glibc.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn

from packaging.tags import Tag, compatible_tags, cpython_tags

from containerize import bases
from containerize.errors import ConfigError, EngineError, ResolutionError
from containerize.platforms import Platform

LibcName = Literal["glibc", "musl"]

#: The keys of a PEP 508 marker environment (``packaging.markers.default_environment``).
MARKER_KEYS = (
    "implementation_name",
    "implementation_version",
    "os_name",
    "platform_machine",
    "platform_python_implementation",
    "platform_release",
    "platform_system",
    "platform_version",
    "python_full_version",
    "python_version",
    "sys_platform",
)

#: A stdlib-only Python program that prints, as one JSON object, what
#: :meth:`TargetEnvironment.from_probe` needs. It runs in the base image.
PROBE_SCRIPT = """\
import glob, json, os, platform, subprocess, sys, sysconfig

def full_version(info):
    text = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        text += info.releaselevel[0] + str(info.serial)
    return text

def libc():
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        text = None
    if text:
        name, _, version = text.partition(" ")
        return {"name": "glibc" if name == "glibc" else name, "version": version}
    for loader in sorted(glob.glob("/lib/ld-musl-*.so.1")):
        try:
            out = subprocess.run([loader], capture_output=True, text=True).stderr
        except OSError:
            continue
        for line in out.splitlines():
            if line.startswith("Version "):
                return {"name": "musl", "version": line.split()[1]}
    return None

impl = sys.implementation
markers = {
    "implementation_name": impl.name,
    "implementation_version": full_version(impl.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_python_implementation": platform.python_implementation(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
print(json.dumps({
    "markers": markers,
    "executable": sys.executable,
    "version_info": list(sys.version_info[:3]),
    "implementation": impl.name,
    "abiflags": getattr(sys, "abiflags", ""),
    "soabi": sysconfig.get_config_var("SOABI"),
    "gil_disabled": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    "machine": platform.machine(),
    "libc": libc(),
}, sort_keys=True))
"""

# The oldest glibc each manylinux architecture has tags for (PEP 600).
_MANYLINUX_FLOOR = {"x86_64": 5, "i686": 5}
_DEFAULT_MANYLINUX_FLOOR = 17
# Legacy manylinux names, and the architectures they were defined for.
_LEGACY_MANYLINUX = {
    17: ("manylinux2014", {"x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x"}),
    12: ("manylinux2010", {"x86_64", "i686"}),
    5: ("manylinux1", {"x86_64", "i686"}),
}


@dataclass(frozen=True, kw_only=True)
class TargetEnvironment:
    """The Python environment of the image on one platform."""

    platform: Platform
    python_version: tuple[int, int]
    #: The PEP 508 marker environment: every key of :data:`MARKER_KEYS`.
    markers: Mapping[str, str]
    #: Wheel tags the target accepts, best first.
    tags: tuple[Tag, ...]
    #: Path of the Python interpreter in the image.
    interpreter: str
    libc: tuple[LibcName, tuple[int, int]]
    gil_disabled: bool = False

    @classmethod
    def from_probe(cls, platform: Platform, facts: Mapping[str, Any]) -> TargetEnvironment:
        """Build the environment from :data:`PROBE_SCRIPT`'s parsed JSON output."""
        probe = _Probe(facts, platform)
        implementation = probe.string("implementation")
        if implementation != "cpython":
            raise ResolutionError(
                f"{platform}: the base image's python is {implementation}, not CPython",
                hint="containerize builds for CPython base images",
            )
        version_info = probe.ints("version_info", 3)
        markers = probe.markers()
        machine = probe.string("machine")
        if machine != platform.machine:
            raise EngineError(
                f"{platform}: the base image ran as {machine}, not {platform.machine}",
                hint="the image has no variant for this platform, or emulation is not "
                "set up (binfmt_misc with qemu-user-static)",
            )
        libc = probe.libc()
        python_version = (version_info[0], version_info[1])
        gil_disabled = probe.boolean("gil_disabled")
        return cls(
            platform=platform,
            python_version=python_version,
            markers=markers,
            tags=compute_tags(platform, python_version, libc, gil_disabled=gil_disabled),
            interpreter=probe.string("executable"),
            libc=libc,
            gil_disabled=gil_disabled,
        )

    @classmethod
    def from_config(
        cls,
        platform: Platform,
        python_version: tuple[int, int] | None = None,
        libc: tuple[LibcName, tuple[int, int]] | None = None,
        *,
        interpreter: str = "/usr/bin/python3",
    ) -> TargetEnvironment:
        """Assume a CPython *python_version* on *libc*, without probing an image.

        Both come from the configuration (``python-version`` and ``libc``); without
        them, the default base image's (:data:`containerize.bases.DEFAULT_SUITE`), as
        the configuration's defaults are.

        The micro version is unknown, so ``python_full_version`` is ``X.Y.0``.
        """
        python_version = python_version or bases.DEFAULT_SUITE.python
        libc = libc or bases.DEFAULT_SUITE.libc_version
        if len(python_version) != 2 or python_version < (3, 0):
            raise ConfigError(
                f"python version {python_version!r} is not a Python 3 X.Y version",
                hint="write it as (3, 11)",
            )
        if libc[0] not in ("glibc", "musl"):
            raise ConfigError(f"unknown libc {libc[0]!r}", hint="use 'glibc' or 'musl'")
        short = f"{python_version[0]}.{python_version[1]}"
        markers = {
            "implementation_name": "cpython",
            "implementation_version": f"{short}.0",
            "os_name": "posix",
            "platform_machine": platform.machine,
            "platform_python_implementation": "CPython",
            "platform_release": "",
            "platform_system": "Linux",
            "platform_version": "",
            "python_full_version": f"{short}.0",
            "python_version": short,
            "sys_platform": "linux",
        }
        return cls(
            platform=platform,
            python_version=python_version,
            markers=markers,
            tags=compute_tags(platform, python_version, libc),
            interpreter=interpreter,
            libc=libc,
        )

    def marker_environment(self, *, extra: str = "") -> dict[str, str]:
        """The marker environment, with the ``extra`` variable set to *extra*."""
        return {**self.markers, "extra": extra}

    def tag_ranks(self) -> dict[Tag, int]:
        """Each accepted tag's rank: 0 is the best."""
        ranks: dict[Tag, int] = {}
        for rank, tag in enumerate(self.tags):
            ranks.setdefault(tag, rank)
        return ranks

    def to_json(self) -> str:
        """Serialize for a cache keyed by the base image's digest (tags are recomputed)."""
        return json.dumps(
            {
                "platform": str(self.platform),
                "python_version": list(self.python_version),
                "markers": dict(self.markers),
                "interpreter": self.interpreter,
                "libc": {"name": self.libc[0], "version": list(self.libc[1])},
                "gil_disabled": self.gil_disabled,
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> TargetEnvironment:
        """Read what :meth:`to_json` wrote."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"cached target environment is not JSON: {exc}", hint="delete the cache"
            ) from exc
        if not isinstance(data, dict) or not isinstance(data.get("platform"), str):
            raise ConfigError(
                "cached target environment: missing 'platform'", hint="delete the cache"
            )
        platform = Platform.parse(data["platform"], where="cached target environment")
        probe = _Probe(data, platform, source="cached target environment")
        version = probe.ints("python_version", 2)
        libc = probe.libc()
        gil_disabled = probe.boolean("gil_disabled")
        python_version = (version[0], version[1])
        return cls(
            platform=platform,
            python_version=python_version,
            markers=probe.markers(),
            tags=compute_tags(platform, python_version, libc, gil_disabled=gil_disabled),
            interpreter=probe.string("interpreter"),
            libc=libc,
            gil_disabled=gil_disabled,
        )

    def __str__(self) -> str:
        major, minor = self.python_version
        name, (lmajor, lminor) = self.libc
        return f"{self.platform} cp{major}{minor} {name} {lmajor}.{lminor}"


def compute_tags(
    platform: Platform,
    python_version: tuple[int, int],
    libc: tuple[LibcName, tuple[int, int]],
    *,
    gil_disabled: bool = False,
) -> tuple[Tag, ...]:
    """The wheel tags a CPython on *platform* with *libc* accepts, best first."""
    platforms = list(_platform_tags(platform.machine, libc))
    abi = f"cp{python_version[0]}{python_version[1]}{'t' if gil_disabled else ''}"
    tags = [
        *cpython_tags(python_version, abis=[abi], platforms=platforms),
        *compatible_tags(
            python_version,
            interpreter=f"cp{python_version[0]}{python_version[1]}",
            platforms=platforms,
        ),
    ]
    if gil_disabled:
        # The free-threaded build cannot load abi3 extensions.
        tags = [tag for tag in tags if tag.abi != "abi3"]
    return tuple(dict.fromkeys(tags))


def _platform_tags(machine: str, libc: tuple[LibcName, tuple[int, int]]) -> Iterator[str]:
    name, (major, minor) = libc
    if name == "glibc":
        if major == 2:
            floor = _MANYLINUX_FLOOR.get(machine, _DEFAULT_MANYLINUX_FLOOR)
            for glibc_minor in range(minor, floor - 1, -1):
                yield f"manylinux_2_{glibc_minor}_{machine}"
                legacy = _LEGACY_MANYLINUX.get(glibc_minor)
                if legacy is not None and machine in legacy[1]:
                    yield f"{legacy[0]}_{machine}"
    elif major == 1:
        for musl_minor in range(minor, -1, -1):
            yield f"musllinux_1_{musl_minor}_{machine}"
    # Last, unlike pip's order: a plain linux_* wheel in a lock was built on some
    # other machine, so any manylinux or musllinux wheel is the safer choice.
    yield f"linux_{machine}"


class _Probe:
    """Validating access to probe (or cache) JSON; errors say what is wrong where."""

    def __init__(
        self, facts: Mapping[str, Any], platform: Platform, *, source: str = "probe output"
    ) -> None:
        if not isinstance(facts, Mapping):
            self._fail(f"{source} for {platform}: expected a JSON object")
        self.facts = facts
        self.where = f"{source} for {platform}"

    def _fail(self, problem: str) -> NoReturn:
        raise EngineError(
            problem,
            hint="the base image's python3 must run containerize.targets.PROBE_SCRIPT "
            "and print its JSON; check the image and its platform",
        )

    def string(self, key: str) -> str:
        value = self.facts.get(key)
        if not isinstance(value, str) or not value:
            self._fail(f"{self.where}: {key!r}: expected a non-empty string, got {value!r}")
        return str(value)

    def boolean(self, key: str) -> bool:
        value = self.facts.get(key, False)
        if not isinstance(value, bool):
            self._fail(f"{self.where}: {key!r}: expected true or false, got {value!r}")
        return bool(value)

    def ints(self, key: str, count: int) -> tuple[int, ...]:
        value = self.facts.get(key)
        if (
            not isinstance(value, list)
            or len(value) < count
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value[:count])
        ):
            self._fail(f"{self.where}: {key!r}: expected {count} integers, got {value!r}")
        return tuple(int(v) for v in value[:count])

    def markers(self) -> dict[str, str]:
        value = self.facts.get("markers")
        if not isinstance(value, dict):
            self._fail(f"{self.where}: 'markers': expected an object, got {value!r}")
        missing = [key for key in MARKER_KEYS if not isinstance(value.get(key), str)]
        if missing:
            self._fail(f"{self.where}: 'markers': missing or not a string: {', '.join(missing)}")
        return {key: str(value[key]) for key in MARKER_KEYS}

    def libc(self) -> tuple[LibcName, tuple[int, int]]:
        value = self.facts.get("libc")
        if value is None:
            raise ResolutionError(
                f"{self.where}: neither glibc nor musl found in the base image",
                hint="use a glibc (Debian, Ubuntu) or musl (Alpine) based image",
            )
        if not isinstance(value, dict) or value.get("name") not in ("glibc", "musl"):
            self._fail(
                f"{self.where}: 'libc': expected {{name: glibc|musl, version}}, got {value!r}"
            )
        version = value.get("version")
        if isinstance(version, list):
            version = ".".join(str(v) for v in version)
        parts = str(version).split(".")
        if len(parts) < 2 or not all(p.isdigit() for p in parts[:2]):
            self._fail(f"{self.where}: 'libc': version {version!r} is not X.Y")
        name: LibcName = "glibc" if value["name"] == "glibc" else "musl"
        return name, (int(parts[0]), int(parts[1]))
