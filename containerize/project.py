"""What ``pyproject.toml`` asks for: the project's root requirements.

Two dialects say the same things: PEP 621 ``[project]`` with PEP 735
``[dependency-groups]``, and Poetry's ``[tool.poetry]`` with its caret and tilde
constraints. :func:`read_project` reads both into one :class:`ProjectMetadata`, so
lock freshness checks and dependency selection never care which one a project uses.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from containerize import process
from containerize.errors import CommandError, ConfigError
from containerize.tables import Table

#: The group name that means the project's runtime dependencies.
MAIN_GROUP = "main"

_HINT = "fix pyproject.toml; see PEP 621, PEP 735 or Poetry's dependency specification"


@dataclass(frozen=True, kw_only=True)
class IndexSource:
    """A package index declared in ``[[tool.poetry.source]]``."""

    name: str
    url: str | None
    priority: str | None


@dataclass(frozen=True, kw_only=True)
class ProjectMetadata:
    """The parts of ``pyproject.toml`` that decide what gets installed.

    Requirements are grouped: :data:`MAIN_GROUP` holds the runtime dependencies,
    other groups are PEP 735 dependency groups or Poetry groups; extras are the
    project's optional dependencies. All tuples are sorted by name.
    """

    path: Path
    name: NormalizedName | None
    version: str | None
    requires_python: SpecifierSet | None
    dependencies: tuple[Requirement, ...]
    optional_dependencies: tuple[tuple[NormalizedName, tuple[Requirement, ...]], ...] = ()
    groups: tuple[tuple[str, tuple[Requirement, ...]], ...] = ()
    sources: tuple[IndexSource, ...] = ()
    #: ``"pep621"`` when ``[project]`` declares the dependencies, else ``"poetry"``.
    dialect: str = "pep621"
    #: The parsed pyproject document, kept for Poetry's content hash.
    data: Mapping[str, Any] | None = None

    @property
    def group_names(self) -> tuple[str, ...]:
        """:data:`MAIN_GROUP` then the other groups, sorted."""
        return (MAIN_GROUP, *sorted(name for name, _ in self.groups))

    @property
    def extra_names(self) -> tuple[NormalizedName, ...]:
        """The project's extras, sorted."""
        return tuple(name for name, _ in self.optional_dependencies)

    def group_requirements(self, name: str) -> tuple[Requirement, ...]:
        """The requirements of one group; :data:`MAIN_GROUP` is the runtime set."""
        if name == MAIN_GROUP:
            return self.dependencies
        for group, requirements in self.groups:
            if group == name:
                return requirements
        known = ", ".join(self.group_names)
        raise ConfigError(
            f"{self.path.name}: tool.containerize.groups: {name!r} is not a dependency group "
            "of this project",
            hint=f"choose among this project's groups: {known}",
        )

    def extra_requirements(self, name: str) -> tuple[Requirement, ...]:
        """The requirements one extra adds."""
        wanted = canonicalize_name(name)
        for extra, requirements in self.optional_dependencies:
            if extra == wanted:
                return requirements
        known = ", ".join(self.extra_names)
        raise ConfigError(
            f"{self.path.name}: tool.containerize.extras: {name!r} is not an extra of this project",
            hint=f"choose among this project's extras: {known}"
            if known
            else "this project declares no extras: remove the key",
        )

    def requirements(
        self, *, groups: Iterable[str] = (MAIN_GROUP,), extras: Iterable[str] = ()
    ) -> tuple[Requirement, ...]:
        """The root requirements of the chosen groups and extras, sorted by name."""
        found: list[Requirement] = []
        for group in groups:
            found.extend(self.group_requirements(group))
        for extra in extras:
            found.extend(self.extra_requirements(extra))
        return _sorted(found)

    def all_requirements(self) -> tuple[Requirement, ...]:
        """Every root requirement of every group and extra."""
        return self.requirements(groups=self.group_names, extras=self.extra_names)


def project_name(metadata: ProjectMetadata, project_dir: Path) -> NormalizedName:
    """The project's name: ``[project]``'s, else Poetry's, else its folder's, normalised.

    A folder's name becomes a valid image repository name too: lowercase letters and
    digits, with single '-' between them.
    """
    if metadata.name is not None:
        return metadata.name
    folder = project_dir.resolve().name
    name = re.sub(r"[^a-z0-9]+", "-", canonicalize_name(folder)).strip("-")
    if not name:
        raise ConfigError(
            f"{metadata.path.name}: no project name, and the folder's name {folder!r} "
            "cannot make one",
            hint="set [project] name, or tool.containerize.image",
        )
    return NormalizedName(name)


def project_version(metadata: ProjectMetadata, project_dir: Path) -> str:
    """The project's version: ``[project]``'s, else Poetry's, else git's nearest tag
    (``v1.2.0`` is ``1.2.0``; a tag that is not a version does not count), else ``0``."""
    if metadata.version:
        return metadata.version
    try:
        result = process.run(
            # Only tags that look like versions: the nearest of those.
            ["git", "describe", "--tags", "--abbrev=0", "--match=v[0-9]*", "--match=[0-9]*"],
            cwd=project_dir,
            check=False,
            timeout=30,
        )
    except CommandError:  # no git on this machine
        return "0"
    tag = result.stdout.strip()
    if result.returncode != 0 or not tag:
        return "0"
    try:
        return str(Version(tag.removeprefix("v").removeprefix("V")))
    except InvalidVersion:
        return "0"


def load(project_dir: Path) -> ProjectMetadata:
    """Read ``project_dir/pyproject.toml``: the one read of it in a run."""
    return read_project(project_dir / "pyproject.toml")


def read_project(path: Path) -> ProjectMetadata:
    """Read *path* (a ``pyproject.toml``) into :class:`ProjectMetadata`."""
    return parse_project(read_text(path), path)


def read_text(path: Path) -> str:
    """The text of *path* (a ``pyproject.toml``), with errors a person can act on."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"no pyproject.toml in {path.parent}",
            hint="run containerize from the project's directory, or pass --project DIR",
        ) from None
    except NotADirectoryError:
        raise ConfigError(
            f"{path.parent} is not a folder",
            hint="pass --project the folder that holds pyproject.toml",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read: {exc.strerror or exc}",
            hint="pyproject.toml must be a readable file in the project's folder",
        ) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start})",
            hint="TOML files are UTF-8: save pyproject.toml as UTF-8",
        ) from None


def parse_project(text: str, path: Path) -> ProjectMetadata:
    """Parse *text*, the contents of *path* (a ``pyproject.toml``), into
    :class:`ProjectMetadata`; *path* names the file in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", hint=_HINT) from None
    top = Table(data=data, where="", file=path, hint=_HINT, error=ConfigError)
    project = top.opt_table("project")
    poetry = _poetry_table(top)

    name: NormalizedName | None = None
    version: str | None = None
    requires_python: SpecifierSet | None = None
    dependencies: list[Requirement] = []
    extras: dict[NormalizedName, list[Requirement]] = {}
    groups: dict[str, list[Requirement]] = {}
    dialect = "pep621"

    if project is not None:
        name = project.name() if "name" in project else None
        version = project.opt_string("version")
        requires_python = project.specifier("requires-python")
        dependencies = _pep508_list(project, "dependencies")
        extras_table = project.opt_table("optional-dependencies")
        if extras_table is not None:
            for extra, _ in extras_table.items():
                extras[canonicalize_name(extra)] = _pep508_list(extras_table, extra)

    if poetry is not None:
        poetry_main, python, optional = _poetry_dependencies(poetry, "dependencies")
        if project is None or "dependencies" not in project:
            dialect = "poetry"
            dependencies = poetry_main
            extras = _poetry_extras(poetry, optional) or extras
        requires_python = requires_python or python
        if name is None and "name" in poetry:
            name = poetry.name()
        version = version or poetry.opt_string("version")
        groups.update(_poetry_groups(poetry))

    for group, requirements in _dependency_groups(top).items():
        groups[group] = [*groups.get(group, []), *requirements]
    for group, requirements in _pdm_dev_groups(top).items():
        groups[group] = [*groups.get(group, []), *requirements]

    return ProjectMetadata(
        path=path,
        name=name,
        version=version,
        requires_python=requires_python,
        dependencies=_sorted(dependencies),
        optional_dependencies=tuple(sorted((k, _sorted(v)) for k, v in extras.items())),
        groups=tuple(sorted((k, _sorted(v)) for k, v in groups.items())),
        sources=_poetry_sources(poetry),
        dialect=dialect,
        data=data,
    )


def _sorted(requirements: Iterable[Requirement]) -> tuple[Requirement, ...]:
    return tuple(sorted(requirements, key=lambda r: (canonicalize_name(r.name), str(r))))


def _poetry_table(top: Table) -> Table | None:
    tool = top.opt_table("tool")
    return None if tool is None else tool.opt_table("poetry")


def _pep508_list(table: Table, key: str) -> list[Requirement]:
    requirements = []
    for i, text in enumerate(table.string_array(key)):
        try:
            requirements.append(Requirement(text))
        except InvalidRequirement as exc:
            table.child(key).fail(i, f"invalid requirement {text!r}: {exc}")
    return requirements


def _dependency_groups(top: Table) -> dict[str, list[Requirement]]:
    """PEP 735 groups, with ``{include-group = ...}`` entries expanded."""
    table = top.opt_table("dependency-groups")
    if table is None:
        return {}
    names = {canonicalize_name(group): group for group, _ in table.items()}

    def expand(group: str, seen: tuple[str, ...]) -> list[Requirement]:
        found: list[Requirement] = []
        for i, item in enumerate(table.array(group)):
            where = table.child(group)
            if isinstance(item, str):
                try:
                    found.append(Requirement(item))
                except InvalidRequirement as exc:
                    where.fail(i, f"invalid requirement {item!r}: {exc}")
            elif isinstance(item, dict) and isinstance(item.get("include-group"), str):
                included = names.get(canonicalize_name(item["include-group"]))
                if included is None:
                    where.fail(i, f"includes unknown group {item['include-group']!r}")
                if included in seen:
                    where.fail(i, f"group {included!r} includes itself")
                found.extend(expand(included, (*seen, included)))
            else:
                where.fail(i, "expected a requirement string or {include-group = ...}")
        return found

    return {group: expand(group, (group,)) for group in names.values()}


def _pdm_dev_groups(top: Table) -> dict[str, list[Requirement]]:
    """PDM's groups of ``[tool.pdm.dev-dependencies]`` (before PEP 735). Its editable
    local entries (``-e file:///${PROJECT_ROOT}/...``) are the developer's checkouts,
    never installed from a lock, so they are left out."""
    tool = top.opt_table("tool")
    pdm = None if tool is None else tool.opt_table("pdm")
    table = None if pdm is None else pdm.opt_table("dev-dependencies")
    if table is None:
        return {}
    found: dict[str, list[Requirement]] = {}
    for group, _ in table.items():
        requirements = found.setdefault(group, [])
        for i, text in enumerate(table.string_array(group)):
            if text.lstrip().startswith("-e"):
                continue
            try:
                requirements.append(Requirement(text))
            except InvalidRequirement as exc:
                table.child(group).fail(i, f"invalid requirement {text!r}: {exc}")
    return found


def _poetry_dependencies(
    table: Table, key: str
) -> tuple[list[Requirement], SpecifierSet | None, dict[NormalizedName, list[Requirement]]]:
    """Read a Poetry dependency table: (required, python constraint, optional by name)."""
    deps = table.opt_table(key)
    required: list[Requirement] = []
    optional: dict[NormalizedName, list[Requirement]] = {}
    python: SpecifierSet | None = None
    if deps is None:
        return required, python, optional
    for name, value in deps.items():
        if name == "python":
            if not isinstance(value, str):
                deps.fail(name, "expected a version constraint string")
            python = poetry_specifier(value, where=deps.path(name), file=deps.file)
            continue
        specs = value if isinstance(value, list) else [value]
        for i, spec in enumerate(specs):
            where = deps.path(name) if len(specs) == 1 else f"{deps.path(name)}[{i}]"
            requirement, is_optional = _poetry_requirement(name, spec, where, deps.file)
            if is_optional:
                optional.setdefault(canonicalize_name(name), []).append(requirement)
            else:
                required.append(requirement)
    return required, python, optional


def _poetry_requirement(
    name: str, spec: object, where: str, file: Path
) -> tuple[Requirement, bool]:
    entry = Table(data={}, where=where, file=file, hint=_HINT, error=ConfigError)
    if isinstance(spec, str):
        spec = {"version": spec}
    if not isinstance(spec, dict):
        entry.fail(None, "expected a version string or a table")
    entry = Table(data=spec, where=where, file=file, hint=_HINT, error=ConfigError)
    markers: list[str] = []
    python = entry.opt_string("python")
    if python is not None:
        markers.append(python_marker(poetry_specifier(python, where=where, file=file)))
    platform = entry.opt_string("platform")
    if platform is not None:
        markers.append(f'sys_platform == "{platform}"')
    extra_markers = entry.opt_string("markers")
    if extra_markers:
        markers.append(f"({extra_markers})")
    version = entry.opt_string("version")
    # A git, path or url dependency pins no version range here.
    specifier = poetry_specifier(version, where=f"{where}.version", file=file) if version else ""
    extras = entry.string_array("extras")
    text = name + (f"[{','.join(sorted(extras))}]" if extras else "") + str(specifier)
    markers = [m for m in markers if m]
    if markers:
        text += " ; " + " and ".join(markers)
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        entry.fail(None, f"cannot be read as a requirement ({text!r}): {exc}")
    return requirement, bool(entry.opt_bool("optional"))


def _poetry_groups(poetry: Table) -> dict[str, list[Requirement]]:
    groups: dict[str, list[Requirement]] = {}
    if "dev-dependencies" in poetry:
        groups["dev"] = _poetry_dependencies(poetry, "dev-dependencies")[0]
    group_table = poetry.opt_table("group")
    if group_table is not None:
        for group, _ in group_table.items():
            table = group_table.table(group)
            if "dependencies" in table:
                found = _poetry_dependencies(table, "dependencies")[0]
                groups[group] = [*groups.get(group, []), *found]
    return groups


def _poetry_extras(
    poetry: Table, optional: dict[NormalizedName, list[Requirement]]
) -> dict[NormalizedName, list[Requirement]]:
    table = poetry.opt_table("extras")
    if table is None:
        return {}
    extras: dict[NormalizedName, list[Requirement]] = {}
    for extra, _ in table.items():
        found: list[Requirement] = []
        for i, name in enumerate(table.string_array(extra)):
            requirements = optional.get(canonicalize_name(name))
            if requirements is None:
                table.child(extra).fail(
                    i, f"{name!r} is not an optional dependency in [tool.poetry.dependencies]"
                )
            found.extend(requirements)
        extras[canonicalize_name(extra)] = found
    return extras


def _poetry_sources(poetry: Table | None) -> tuple[IndexSource, ...]:
    if poetry is None:
        return ()
    sources = [
        IndexSource(
            name=source.string("name"),
            url=source.opt_string("url"),
            priority=source.opt_string("priority"),
        )
        for source in poetry.tables("source")
    ]
    return tuple(sources)


_VERSION_RE = r"[0-9][0-9A-Za-z.+!*-]*"
_CONSTRAINT_RE = re.compile(rf"^(\^|~=|~|==|!=|>=|<=|>|<|=)?\s*({_VERSION_RE})$")


def poetry_specifier(text: str, *, where: str = "", file: Path | None = None) -> SpecifierSet:
    """Convert a Poetry version constraint to a PEP 440 specifier set.

    ``^1.2`` is ``>=1.2,<2.0``, ``~1.2`` is ``>=1.2,<1.3``, ``1.2.*`` is ``==1.2.*``,
    ``*`` is no constraint; PEP 440 operators pass through. A union (``a || b``)
    cannot be one specifier set: it gives no constraint, since containerize only
    uses these to read which packages are wanted, never to resolve versions.
    """
    text = text.strip()
    if "||" in text or "|" in text:
        return SpecifierSet()
    specifiers: list[str] = []
    try:
        for part in re.split(r"\s*,\s*|\s+(?=[\^~<>=!0-9*])", text):
            if part not in ("", "*"):
                specifiers.extend(_poetry_clause(part))
        return SpecifierSet(",".join(specifiers))
    except (ValueError, InvalidSpecifier, InvalidVersion) as exc:
        location = f"{file.name}: {where}: " if file is not None else ""
        raise ConfigError(
            f"{location}cannot read version constraint {text!r}: {exc}", hint=_HINT
        ) from exc


def _poetry_clause(part: str) -> list[str]:
    match = _CONSTRAINT_RE.match(part)
    if match is None:
        raise ValueError(f"unknown constraint {part!r}")
    op, version = match.group(1) or "", match.group(2)
    if version.endswith(".*") or version == "*":
        return [f"{'!=' if op == '!=' else '=='}{version}"]
    if op in ("", "="):
        return [f"=={version}"]
    if op == "^":
        parsed = Version(version)
        parts = list(parsed.release)
        # The first non-zero component is the one that may not change.
        index = next((i for i, p in enumerate(parts) if p != 0), len(parts) - 1)
        upper = [*parts[:index], parts[index] + 1]
        return [f">={version}", f"<{_join(upper)}"]
    if op == "~":
        parts = list(Version(version).release)
        upper = [parts[0] + 1] if len(parts) == 1 else [parts[0], parts[1] + 1]
        return [f">={version}", f"<{_join(upper)}"]
    return [f"{op}{version}"]


def _join(parts: Sequence[int]) -> str:
    padded = [*parts, 0] if len(parts) == 1 else list(parts)
    return ".".join(str(p) for p in padded)


def python_marker(specifier: SpecifierSet) -> str:
    """Express a Python version specifier set as a PEP 508 marker (``""`` for any)."""
    clauses = []
    for spec in sorted(specifier, key=str):
        version = spec.version
        # python_version is X.Y only: exact (in)equality on X.Y must compare it, the
        # rest compares the full version so that 3.11.7 < 3.12 works as expected.
        short = version.count(".") <= 1 and not version.endswith("*")
        variable = (
            "python_version" if spec.operator in ("==", "!=") and short else "python_full_version"
        )
        clauses.append(f'{variable} {spec.operator} "{version}"')
    return " and ".join(clauses)
