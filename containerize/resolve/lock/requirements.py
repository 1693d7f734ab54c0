"""Read hashed requirements files as locks (``pip-compile`` / ``uv pip compile``).

A requirements file is a lock when every line pins one version and lists the sha256 of
each file it accepts, as ``pip-compile --generate-hashes`` and ``uv pip compile
--generate-hashes`` write them::

    flask==3.1.0 ; python_version >= "3.9" \\
        --hash=sha256:... \\
        --hash=sha256:...
        # via -r requirements.in

The file is read the way pip reads it: ``\\`` joins lines, ``#`` starts a comment at
the start of a line or after whitespace, and an error names the line where the
requirement starts. ``-r``/``--requirement`` includes another file and ``-c``/
``--constraint`` a constraints file, both relative to the including file; an include
cycle is an error. ``--index-url``, ``--extra-index-url`` and ``--find-links`` are
recorded on the :class:`~containerize.resolve.lock.model.Lock`, for the fetch to search
after the user's own pip configuration; ``--require-hashes``, ``--pre``,
``--prefer-binary``, ``--no-index`` and ``--trusted-host`` change nothing for a
hash-pinned install and are accepted.

A local folder (``.``, ``-e .``, ``./lib``, ``-e file:///abs/path``, ``name @
file:///abs/path``, as ``uv pip compile`` and pip-compile write them; a relative path is
relative to the file that names it) is a local package: built into a wheel from its
sources like a uv workspace member (:mod:`~containerize.resolve.lock.localdir`), and
installed as a wheel, never editable. Anything else, such as URL or VCS requirements,
is refused with the line that holds it.

The file records no graph and no file names: the packages form a flat list, each with
its own marker (so :attr:`Lock.has_graph` is false), and the hashes stay
:attr:`~containerize.resolve.lock.model.LockedPackage.unnamed_hashes` until
:func:`~containerize.resolve.filenames.name_files` looks them up on the index.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from containerize.errors import LockError
from containerize.resolve.lock.localdir import local_package
from containerize.resolve.lock.model import (
    RELOCK_COMMANDS,
    IndexOption,
    Lock,
    LockedPackage,
    LockIndex,
    sort_packages,
)
from containerize.resolve.lock.reqsyntax import (
    EDITABLE,
    INCLUDES,
    include_values,
    local_reference,
    logical_lines,
    split_line,
)

#: What to run when a line has no hashes or no pin.
HASH_HINT = (
    "compile the file with hashes: 'pip-compile --generate-hashes requirements.in' "
    "(or 'uv pip compile --generate-hashes requirements.in -o requirements.txt'), or let "
    "'containerize lock' resolve it into a hashed pylock.toml"
)
_HINT = f"regenerate the file with '{RELOCK_COMMANDS['requirements']}'"

_SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")

_INDEX_OPTIONS: dict[str, IndexOption] = {
    "-i": "index-url",
    "--index-url": "index-url",
    "--extra-index-url": "extra-index-url",
    "-f": "find-links",
    "--find-links": "find-links",
}
# Options that change nothing when every file is pinned by hash.
_IGNORED_FLAGS = frozenset({"--require-hashes", "--pre", "--prefer-binary", "--no-index"})
_IGNORED_WITH_VALUE = frozenset({"--trusted-host"})
_TAKES_VALUE = frozenset({*_INDEX_OPTIONS, *INCLUDES, *EDITABLE, *_IGNORED_WITH_VALUE})


def read_requirements(path: Path) -> Lock:
    """Read a hashed requirements file (and the files it includes) into a :class:`Lock`."""
    text = _read(path, None, path.parent)
    reader = _Reader(top=path.parent, lock_path=path)
    reader.read_file(path, text, stack=(), constraint=False)
    generator, command = _header(text)
    return Lock(
        path=path,
        format="requirements",
        packages=reader.packages(),
        has_graph=False,
        generator=generator,
        recorded_command=command,
        indexes=tuple(reader.indexes),
        project_package=reader.project_package(),
    )


def read_requirements_files(paths: Sequence[Path], *, top: Path) -> Lock:
    """Read several hashed requirements files as one :class:`Lock`, as ``pip install -r
    a.txt -r b.txt`` reads them.

    A pin that appears in more than one file (or twice in one) with the same version,
    marker and hashes is kept once; a package pinned differently is an error naming
    both lines (``requirements/deploy.txt:3`` and ``requirements/main.txt:7``). A file
    both name with ``-r`` is read once. Error locations are relative to *top*, the
    project's folder. The lock's :attr:`~Lock.path` is the first file.
    """
    reader = _Reader(top=top, lock_path=paths[0])
    texts = []
    for path in paths:
        texts.append(_read(path, None, top))
        if path.resolve() not in reader.done:  # else already read through an -r
            reader.read_file(path, texts[-1], stack=(), constraint=False)
    generator, command = _header(texts[0])
    return Lock(
        path=paths[0],
        format="requirements",
        packages=reader.packages(),
        has_graph=False,
        generator=generator,
        recorded_command=command,
        indexes=tuple(reader.indexes),
        project_package=reader.project_package(),
    )


def local_folders(path: Path) -> tuple[Path, ...]:
    """The local folders *path* and the files it includes name (``.``, ``-e ./lib``,
    ``name @ file:///abs``), resolved, in file order; hashed or not. Unreadable files
    name none."""
    found: list[Path] = []
    for file in included_files(path):
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue
        for _, content in logical_lines(text):
            value = content
            for option in EDITABLE:
                if content.startswith(option):
                    value = content[len(option) :].lstrip(" =")
                    break
            else:
                if content.startswith("-"):
                    continue
                value = split_line(content)[0]
            local = local_reference(value)
            if local is not None:
                folder = (file.parent / local[1]).resolve()
                if folder not in found:
                    found.append(folder)
    return tuple(found)


def included_files(path: Path) -> tuple[Path, ...]:
    """*path* and every local file it includes with ``-r``/``-c``, recursively, each
    once, in reading order; a file that is not hashed is fine (the input of
    ``containerize lock``), a missing include is an error naming its line."""
    top = path.parent
    found: list[Path] = []

    def visit(current: Path, line: _Line | None) -> None:
        resolved = current.resolve()
        if resolved in found:
            return
        text = _read(current, line, top)
        found.append(resolved)
        for number, content in logical_lines(text):
            if not content.startswith("-"):
                continue
            where = _Line(shown=_shown(current, top), number=number, text=content)
            for value in include_values(content):
                if "://" not in value:
                    visit(current.parent / value, where)

    visit(path, None)
    return tuple(found)


@dataclass(frozen=True, kw_only=True)
class _Line:
    """One logical line: where it starts and what it says, comments removed."""

    shown: str
    number: int
    text: str

    @property
    def where(self) -> str:
        return f"{self.shown}:{self.number}"

    def fail(self, problem: str, hint: str = _HINT) -> NoReturn:
        raise LockError(f"{self.where}: {problem}", hint=hint)


@dataclass(frozen=True, kw_only=True)
class _Pin:
    name: NormalizedName
    version: Version
    marker: Marker | None
    hashes: frozenset[str]
    line: _Line


@dataclass(kw_only=True)
class _Reader:
    """Collects pins, constraints and index options over a file and its includes."""

    top: Path
    #: The lock's path: local packages' folders are recorded relative to its folder.
    lock_path: Path
    pins: list[_Pin] = field(default_factory=list)
    locals: list[LockedPackage] = field(default_factory=list)
    constraints: list[tuple[Requirement, _Line]] = field(default_factory=list)
    indexes: list[LockIndex] = field(default_factory=list)
    done: set[Path] = field(default_factory=set)

    def read_file(
        self, path: Path, text: str, *, stack: tuple[Path, ...], constraint: bool
    ) -> None:
        resolved = path.resolve()
        self.done.add(resolved)
        shown = _shown(path, self.top)
        for number, content in logical_lines(text):
            line = _Line(shown=shown, number=number, text=content)
            if content.startswith("-"):
                self._options(line, path, (*stack, resolved), constraint=constraint)
            elif constraint:
                self.constraints.append((_requirement(line, split_line(content)[0]), line))
            elif (local := local_reference(split_line(content)[0])) is not None:
                self._local(line, path, *local)
            else:
                self.pins.append(_pin(line))

    def _local(self, line: _Line, path: Path, name: str | None, folder: str) -> None:
        """A local folder named at *line* of *path* (relative to *path*'s folder)."""
        target = Path(folder)
        if not target.is_absolute():
            target = path.parent / target
        package = local_package(
            lock_path=self.lock_path,
            folder=target,
            where=line.where,
            name=canonicalize_name(name) if name else None,
            project_dir=self.top,
            shown=folder,
        )
        known = next((p for p in self.locals if p.name == package.name), None)
        if known is None:
            self.locals.append(package)
        elif known.local != package.local:
            line.fail(
                f"{package.name} is named here from {package.local} and before from {known.local}",
                hint="name each local package once",
            )

    def _options(
        self, line: _Line, path: Path, stack: tuple[Path, ...], *, constraint: bool
    ) -> None:
        for option, value in _parse_options(line):
            if option in EDITABLE:
                local = None if constraint else local_reference(value)
                if local is None:
                    line.fail(
                        f"editable requirement {value!r}: an image installs only local "
                        "folders and files pinned by hash",
                        hint="name a folder of the project (-e . or -e ./lib), or pin the "
                        f"package by hash ({HASH_HINT})",
                    )
                self._local(line, path, *local)
                continue
            if option in _INDEX_OPTIONS:
                self.indexes.append(_index(line, _INDEX_OPTIONS[option], value, path.parent))
            elif option in INCLUDES:
                self._include(line, path, value, stack, constraint=constraint or INCLUDES[option])

    def _include(
        self, line: _Line, path: Path, value: str, stack: tuple[Path, ...], *, constraint: bool
    ) -> None:
        if "://" in value:
            line.fail(
                f"cannot include {value!r}: only local files can be included",
                hint="download the file next to this one and include it by path",
            )
        target = path.parent / value
        resolved = target.resolve()
        if resolved in stack:
            chain = " -> ".join(_shown(p, self.top) for p in (*stack, resolved))
            line.fail(f"include cycle: {chain}", hint="remove one of these -r/-c lines")
        if resolved in self.done:
            # Included twice without a cycle (a shared base file): once is enough.
            return
        text = _read(target, line, self.top)
        self.read_file(target, text, stack=stack, constraint=constraint)

    def project_package(self) -> NormalizedName | None:
        """The local package in the project's own folder, if one is named."""
        top = self.top.resolve()
        for package in self.locals:
            assert package.local is not None
            if (self.lock_path.parent / package.local).resolve() == top:
                return package.name
        return None

    def packages(self) -> tuple[LockedPackage, ...]:
        unique: dict[tuple[NormalizedName, Version], _Pin] = {}
        by_name: dict[NormalizedName, list[_Pin]] = {}
        for pin in self.pins:
            known = unique.get((pin.name, pin.version))
            if known is not None:
                if (known.marker, known.hashes) != (pin.marker, pin.hashes):
                    pin.line.fail(
                        f"{pin.name}=={pin.version} is pinned again, differently, "
                        f"at {known.line.where}"
                    )
                continue
            unique[pin.name, pin.version] = pin
            by_name.setdefault(pin.name, []).append(pin)
        for pins in by_name.values():
            # Several versions of one name only make sense for different environments.
            if len(pins) > 1 and any(p.marker is None for p in pins):
                pins[1].line.fail(
                    f"{pins[1].name} is pinned to {pins[1].version} here and to "
                    f"{pins[0].version} at {pins[0].line.where}, without markers to tell "
                    "when each applies"
                )
        self._check_constraints(list(unique.values()))
        for package in self.locals:
            if package.name in by_name:
                pin = by_name[package.name][0]
                pin.line.fail(
                    f"{package.name} is pinned here and is the local package in "
                    f"{package.local} too",
                    hint="keep one of them",
                )
        pinned = [
            LockedPackage(
                name=pin.name,
                version=pin.version,
                marker=pin.marker,
                unnamed_hashes=tuple(sorted(pin.hashes)),
            )
            for pin in unique.values()
        ]
        return sort_packages([*self.locals, *pinned])

    def _check_constraints(self, pins: list[_Pin]) -> None:
        for requirement, line in self.constraints:
            if requirement.marker is not None or not requirement.specifier:
                # A constraint's marker is decided per target; the pins carry their own.
                continue
            name = canonicalize_name(requirement.name)
            for pin in pins:
                if pin.name == name and not requirement.specifier.contains(
                    pin.version, prereleases=True
                ):
                    line.fail(
                        f"the constraint {requirement} excludes {pin.name}=={pin.version}, "
                        f"pinned at {pin.line.where}"
                    )


def _read(path: Path, line: _Line | None, top: Path) -> str:
    """The text of *path*; *line* is the include that asked for it, if any."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        problem = f"cannot read {_shown(path, top)}: {exc.strerror}"
        if line is None:
            raise LockError(f"{path}: cannot read: {exc.strerror}", hint=_HINT) from None
        line.fail(problem, hint="fix the path; it is relative to the file that includes it")
    except UnicodeDecodeError as exc:
        raise LockError(
            f"{_shown(path, top)}: not UTF-8 text ({exc.reason} at byte {exc.start})",
            hint=_HINT,
        ) from None


def _shown(path: Path, top: Path) -> str:
    """*path* as error messages show it: relative to the lock's folder when inside it."""
    try:
        return path.resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        return str(path)


def _parse_options(line: _Line) -> list[tuple[str, str]]:
    """The ``(option, value)`` pairs of an option line; flags get an empty value."""
    try:
        tokens = shlex.split(line.text)
    except ValueError as exc:
        line.fail(f"cannot split {line.text!r}: {exc}")
    found = []
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        option, has_value, value = token.partition("=")
        if not has_value and len(token) > 2 and token[:2] in _TAKES_VALUE and token[1] != "-":
            # Short options take their value attached too: -rbase.txt
            option, value, has_value = token[:2], token[2:], "="
        if option in _IGNORED_FLAGS and not has_value:
            continue
        if option not in _TAKES_VALUE:
            line.fail(
                f"unsupported option {token!r}",
                hint="a requirements lock may use -r, -c, --index-url, --extra-index-url, "
                "--find-links and --hash; remove the others",
            )
        if not has_value:
            if position >= len(tokens):
                line.fail(f"{option} needs a value")
            value = tokens[position]
            position += 1
        if option not in _IGNORED_WITH_VALUE:
            found.append((option, value))
    return found


def _index(line: _Line, option: IndexOption, value: str, folder: Path) -> LockIndex:
    if "${" in value:
        line.fail(
            f"{option} {value!r}: environment variables are not expanded",
            hint="give the index's credentials in ~/.netrc, or set the index in your pip "
            "configuration (PIP_EXTRA_INDEX_URL) instead of the lock file",
        )
    if option == "find-links" and "://" not in value:
        # As pip does for a find-links folder named in a requirements file.
        value = str((folder / Path(value).expanduser()).absolute())
    elif "://" not in value:
        line.fail(
            f"{option} {value!r} is not a URL",
            hint="use an http(s):// or file:// URL of a simple index",
        )
    return LockIndex(option=option, url=value, origin=line.where)


def _requirement(line: _Line, text: str) -> Requirement:
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        if "://" in text or text.startswith((".", "/", "~")):
            line.fail(
                f"{text.split(maxsplit=1)[0]!r} is a URL, VCS or path requirement: an image "
                "installs only files pinned by name, version and hash from an index",
                hint=f"publish the package to an index and pin it as name==version; {HASH_HINT}",
            )
        line.fail(f"not a valid requirement: {exc}")
    if requirement.url:
        line.fail(
            f"{requirement.name} @ {requirement.url} is a URL requirement: an image installs "
            "only files pinned by name, version and hash from an index",
            hint=f"publish the package to an index and pin it as name==version; {HASH_HINT}",
        )
    return requirement


def _pin(line: _Line) -> _Pin:
    text, options = split_line(line.text)
    requirement = _requirement(line, text)
    hashes = _hashes(line, options)
    specifiers = list(requirement.specifier)
    exact = len(specifiers) == 1 and specifiers[0].operator in ("==", "===")
    if not exact or specifiers[0].version.endswith(".*"):
        line.fail(
            f"{requirement.name}{requirement.specifier or ''} is not pinned to one version "
            "(name==version)",
            hint=HASH_HINT,
        )
    try:
        version = Version(specifiers[0].version)
    except InvalidVersion:
        line.fail(f"{specifiers[0].version!r} is not a valid version", hint=HASH_HINT)
    if not hashes:
        line.fail(
            f"{requirement.name}=={version} has no --hash: containerize installs only "
            "hash-verified files",
            hint=HASH_HINT,
        )
    return _Pin(
        name=canonicalize_name(requirement.name),
        version=version,
        marker=requirement.marker,
        hashes=frozenset(hashes),
        line=line,
    )


def _hashes(line: _Line, tokens: list[str]) -> list[str]:
    found = []
    position = 0
    while position < len(tokens):
        option, has_value, value = tokens[position].partition("=")
        position += 1
        if option != "--hash":
            line.fail(
                f"unsupported option {tokens[position - 1]!r} on a requirement line",
                hint="a requirement line of a lock holds name==version, an optional "
                "marker, and --hash options",
            )
        if not has_value:
            if position >= len(tokens):
                line.fail("--hash needs a value (sha256:HEX)")
            value = tokens[position]
            position += 1
        algorithm, _, digest = value.partition(":")
        if algorithm != "sha256":
            line.fail(f"--hash={value}: only sha256 hashes are supported", hint=HASH_HINT)
        if not _SHA256_RE.match(digest):
            line.fail(f"--hash={value}: not a sha256 hex digest", hint=HASH_HINT)
        found.append(digest.lower())
    return found


def _header(text: str) -> tuple[str | None, str | None]:
    """The tool (``pip-compile`` or ``uv``) and command line the file's header records."""
    generator = None
    command = None
    lines = text.splitlines()
    for position, raw in enumerate(lines):
        if not raw.startswith("#"):
            break
        comment = raw.lstrip("#").strip()
        if "autogenerated by pip-compile" in comment:
            generator = "pip-compile"
        elif "autogenerated by uv" in comment:
            generator = "uv"
        if comment.endswith("following command:"):
            block = itertools.takewhile(lambda line: line.startswith("#"), lines[position + 1 :])
            command = next((c for c in (b.lstrip("#").strip() for b in block) if c), None)
    return generator, command
