"""A local folder a lock names as a package: its name and version, read without
running its build.

``pylock.toml`` (``[packages.directory]``), requirements files (``.``, ``-e .``,
``./lib``, ``name @ file:///abs/path``) and ``Pipfile.lock`` (``"path": "."``) name
local folders that may state no version, or no name. The image installs such a
folder as a wheel compiled from its sources
(:mod:`containerize.resolve.localpkgs`), and the compile build looks for the wheel of
the version the lock model says: so that version must be the one the build backend
writes. It is read statically, in this order:

1. the version the lock states, if any;
2. ``[project] version`` of its ``pyproject.toml``;
3. ``[tool.setuptools.dynamic] version`` (``attr`` or ``file``), setup.cfg's
   ``[metadata] version`` (a literal, ``attr:`` or ``file:``);
4. the ``version=`` that ``setup.py`` passes to ``setup()``: a literal, a module-level
   name bound to one, or a package's ``__version__`` (``__import__('pkg').__version__``,
   ``pkg.__version__``, ``from pkg import __version__``), read from its source;
5. git's nearest version tag, when the version comes from git (setuptools-scm,
   hatch-vcs, ``use_scm_version``): the compile build passes it in.

Anything else (a version computed by code) is an error that says where and how to
state it: a guessed version would not match the wheel setuptools builds.
"""

from __future__ import annotations

import ast
import configparser
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from containerize.errors import LockError
from containerize.project import project_version, read_project
from containerize.resolve.lock.model import LockedPackage

_FIX = (
    "state the version where it can be read without running code: version='1.2.0' in "
    "setup.py's setup() (or a __version__ = '1.2.0' literal it imports), [metadata] "
    "version in setup.cfg, or [project] version in pyproject.toml"
)
_GIT_BACKENDS = ("setuptools_scm", "setuptools-scm", "hatch-vcs", "hatch_vcs", "versioningit")


@dataclass(frozen=True, kw_only=True)
class StaticMetadata:
    """What a project folder states about itself without running its build."""

    name: str | None = None
    #: ``file:line`` of the name, for notes.
    name_origin: str | None = None
    version: str | None = None
    #: Why the version cannot be read, when it cannot (``setup.py:12: version=...``).
    version_problem: str | None = None
    #: Whether the folder is a package that can be built: a ``setup.py``, or a
    #: ``pyproject.toml`` with ``[build-system]`` or ``[project]`` (a tool-only
    #: ``pyproject.toml`` is not).
    buildable: bool = False


def local_package(
    *,
    lock_path: Path,
    folder: Path,
    where: str,
    name: NormalizedName | None = None,
    version: Version | None = None,
    project_dir: Path | None = None,
    shown: str | None = None,
) -> LockedPackage:
    """The :class:`LockedPackage` of a local *folder* (absolute, or relative to the
    lock's folder) named by the lock at *where* (``file:line`` or a key path).

    The folder must exist inside *project_dir* (the lock's folder by default) and be a
    package (:attr:`StaticMetadata.buildable`); its name must match *name* when the
    lock gives one. Its :attr:`~LockedPackage.local` is relative to the lock's folder.
    *shown* is the folder as the lock writes it, for messages.
    """
    top = (project_dir or lock_path.parent).resolve()
    resolved = (lock_path.parent.resolve() / folder).resolve()
    shown = shown or folder.as_posix()
    if resolved != top and top not in resolved.parents:
        raise LockError(
            f"{where}: the local package folder {shown!r} is outside the project ({top})",
            hint="an image is built from the project's folder: move the package into it "
            "(or publish it to an index and require it by version)",
        )
    if not resolved.is_dir():
        raise LockError(
            f"{where}: the local package folder {shown!r} does not exist ({resolved})",
            hint="fix the path (a relative path is relative to the file that names it) and re-lock",
        )
    meta = read_static(resolved)
    if not meta.buildable:
        raise LockError(
            f"{where}: {shown!r} is no package: no setup.py, and no pyproject.toml with "
            "[project] or [build-system] to build it from",
            hint="point the lock at the folder of the package's setup.py or pyproject.toml",
        )
    found = canonicalize_name(meta.name) if meta.name else None
    if name is None:
        if found is None:
            raise LockError(
                f"{where}: the name of the package in {shown!r} cannot be read "
                "(no [project] name, setup.cfg [metadata] name or setup.py name='...')",
                hint="state the name as a literal, or write the requirement as "
                "'NAME @ file:///path' in the lock",
            )
        name = found
    elif found is not None and found != name:
        raise LockError(
            f"{where}: the lock names {name}, but {shown!r} is the package {found}",
            hint="fix the name or the path in the lock, or re-lock",
        )
    if version is None:
        if meta.version is None:
            raise LockError(
                f"{where}: the version of {name} cannot be read from {shown!r}: "
                f"{meta.version_problem}",
                hint=_FIX,
            )
        try:
            version = Version(meta.version)
        except InvalidVersion:
            raise LockError(
                f"{where}: {name}'s version {meta.version!r} is not a valid version",
                hint="give it a version such as 1.2.0",
            ) from None
    relative = os.path.relpath(resolved, lock_path.parent.resolve())
    return LockedPackage(name=name, version=version, local=Path(relative).as_posix())


def read_static(folder: Path) -> StaticMetadata:
    """The name and version *folder*'s ``pyproject.toml``, ``setup.cfg`` and
    ``setup.py`` state (see the module's docstring for the order)."""
    pyproject, setup_cfg, setup_py = (
        folder / "pyproject.toml",
        folder / "setup.cfg",
        folder / "setup.py",
    )
    buildable = setup_py.is_file()
    name = origin = version = problem = None
    dynamic_version = False
    uses_git = False
    if pyproject.is_file():
        data = _toml(pyproject)
        buildable = buildable or "build-system" in data or "project" in data
        project = _dict(data.get("project"))
        if isinstance(project.get("name"), str):
            name, origin = project["name"], _line_of(pyproject, "name")
        if isinstance(project.get("version"), str):
            version = project["version"]
        dynamic_version = "version" in (project.get("dynamic") or ())
        tool = _dict(data.get("tool"))
        requires = _dict(data.get("build-system")).get("requires") or []
        uses_git = any(
            str(r).lower().startswith(_GIT_BACKENDS) for r in requires if isinstance(r, str)
        ) or any(key in tool for key in ("setuptools_scm", "hatch-vcs"))
        dynamic = _dict(_dict(tool.get("setuptools")).get("dynamic")).get("version")
        if version is None and isinstance(dynamic, dict):
            version, problem = _directive(folder, dynamic, "pyproject.toml")
    if setup_cfg.is_file():
        cfg_name, cfg_version, cfg_problem = _setup_cfg(folder, setup_cfg)
        if name is None and cfg_name is not None:
            name, origin = cfg_name, _line_of(setup_cfg, "name")
        if version is None and cfg_version is not None:
            version = cfg_version
        problem = problem or cfg_problem
    if setup_py.is_file():
        py = _setup_py(folder, setup_py)
        if name is None and py.name is not None:
            name, origin = py.name, py.name_origin
        if version is None and py.version is not None:
            version = py.version
        uses_git = uses_git or py.uses_git
        if version is None:
            problem = problem or py.version_problem
    version, problem = _fallback(folder, version, problem, git=uses_git or dynamic_version)
    return StaticMetadata(
        name=name,
        name_origin=origin,
        version=version,
        version_problem=problem,
        buildable=buildable,
    )


def _fallback(
    folder: Path, version: str | None, problem: str | None, *, git: bool
) -> tuple[str | None, str | None]:
    """The version from git when the build reads it from there (and nothing else
    stated one); else why there is none."""
    if version is not None:
        return version, None
    if problem is not None:
        return None, problem
    if git:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            return project_version(read_project(pyproject), folder), None
        return _git_version(folder), None
    return None, "no [project] version, setup.cfg version or setup.py version='...'"


def _git_version(folder: Path) -> str:
    from containerize.project import ProjectMetadata  # noqa: PLC0415

    empty = ProjectMetadata(
        path=folder / "pyproject.toml", name=None, version=None, requires_python=None,
        dependencies=(),
    )  # fmt: skip
    return project_version(empty, folder)


def _dict(value: object) -> dict[str, Any]:
    """*value* when it is a table, else an empty one."""
    return value if isinstance(value, dict) else {}


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LockError(
            f"{path}: cannot be read: {exc}", hint="fix the file's TOML syntax"
        ) from None


def _line_of(path: Path, key: str) -> str:
    """``file:line`` of the first line of *path* that sets *key*."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return path.name
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith(key) and stripped[len(key) :].lstrip().startswith(("=", ":")):
            return f"{path.name}:{number}"
    return path.name


def _setup_cfg(folder: Path, path: Path) -> tuple[str | None, str | None, str | None]:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(path.read_text(encoding="utf-8", errors="replace"))
    except configparser.Error:
        return None, None, None
    if not parser.has_section("metadata"):
        return None, None, None
    metadata = parser["metadata"]
    name = metadata.get("name", "").strip() or None
    raw = metadata.get("version", "").strip()
    if not raw:
        return name, None, None
    where = _line_of(path, "version")
    if raw.startswith("attr:"):
        version, problem = _directive(folder, {"attr": raw[5:].strip()}, where)
    elif raw.startswith("file:"):
        version, problem = _directive(folder, {"file": raw[5:].strip()}, where)
    else:
        version, problem = raw, None
    return name, version, problem


def _directive(folder: Path, spec: dict[str, object], where: str) -> tuple[str | None, str | None]:
    """A setuptools ``attr``/``file`` version directive, read without importing."""
    attr, file = spec.get("attr"), spec.get("file")
    if isinstance(attr, str) and "." in attr:
        module, _, variable = attr.rpartition(".")
        value = _module_constant(folder, module, variable)
        if value is not None:
            return value, None
        return None, f"{where}: version comes from {attr}, which is not a literal string"
    if isinstance(file, str) or (isinstance(file, list) and file):
        first = file if isinstance(file, str) else str(file[0])
        try:
            return (folder / first).read_text(encoding="utf-8").strip(), None
        except OSError:
            return None, f"{where}: the version file {first} cannot be read"
    return None, f"{where}: a version directive containerize cannot read"


def _module_constant(folder: Path, module: str, variable: str) -> str | None:
    """The string literal *module* (dotted) binds to *variable* at module level,
    found in *folder* or its ``src/``."""
    parts = module.split(".")
    for base in (folder, folder / "src"):
        for candidate in (
            base.joinpath(*parts, "__init__.py"),
            base.joinpath(*parts[:-1], parts[-1] + ".py"),
        ):
            if candidate.is_file():
                tree = _parse(candidate)
                if tree is not None:
                    return _constants(tree).get(variable)
    return None


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return None


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level names bound to a string literal (the last binding wins)."""
    found: dict[str, str] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name):
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found[target.id] = value.value
                else:
                    found.pop(target.id, None)
    return found


@dataclass(frozen=True)
class _SetupPy:
    name: str | None
    name_origin: str | None
    version: str | None
    version_problem: str | None
    uses_git: bool


def _setup_py(folder: Path, path: Path) -> _SetupPy:
    tree = _parse(path)
    if tree is None:
        return _SetupPy(None, None, None, "setup.py cannot be parsed", False)
    call = next(
        (
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Name) and node.func.id == "setup")
                or (isinstance(node.func, ast.Attribute) and node.func.attr == "setup")
            )
        ),
        None,
    )
    if call is None:
        return _SetupPy(None, None, None, "setup.py calls no setup()", False)
    keywords = {k.arg: k.value for k in call.keywords if k.arg is not None}
    uses_git = "use_scm_version" in keywords
    env = _Names(folder, tree)
    name = env.string(keywords["name"]) if "name" in keywords else None
    origin = f"setup.py:{keywords['name'].lineno}" if name is not None else None
    expr = keywords.get("version")
    if expr is None:
        problem = None if uses_git else f"setup.py:{call.lineno}: setup() is given no version"
        return _SetupPy(name, origin, None, problem, uses_git)
    version = env.string(expr)
    problem = None
    if version is None:
        problem = (
            f"setup.py:{expr.lineno}: version={ast.unparse(expr)} is computed when setup.py "
            "runs, not written as a literal"
        )
    return _SetupPy(name, origin, version, problem, uses_git)


class _Names:
    """What setup.py's module-level names stand for, as far as literals go."""

    def __init__(self, folder: Path, tree: ast.Module) -> None:
        self.folder = folder
        self.literals = _constants(tree)
        self.bindings: dict[str, ast.expr] = {}
        self.imports: dict[str, str] = {}  # local name -> "module" or "module:attr"
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    self.bindings[target.id] = node.value
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    self.imports[alias.asname or alias.name.split(".")[0]] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{node.module}:{alias.name}"

    def string(self, expr: ast.expr, depth: int = 0) -> str | None:
        """The string *expr* stands for, where literals say; None otherwise."""
        if isinstance(expr, ast.Constant):
            return expr.value if isinstance(expr.value, str) else None
        if isinstance(expr, ast.Name) and depth <= 5:
            return self._name(expr.id, depth)
        module = self._module(expr.value) if isinstance(expr, ast.Attribute) else None
        if module is not None and isinstance(expr, ast.Attribute):
            return _module_constant(self.folder, module, expr.attr)
        return None

    def _name(self, name: str, depth: int) -> str | None:
        if name in self.literals:
            return self.literals[name]
        if name in self.bindings:
            return self.string(self.bindings[name], depth + 1)
        module, colon, attribute = self.imports.get(name, "").partition(":")
        return _module_constant(self.folder, module, attribute) if colon else None

    def _module(self, expr: ast.expr) -> str | None:
        """The module *expr* names: ``__import__('pkg')``, or an imported ``pkg``."""
        if (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Name)
            and expr.func.id == "__import__"
            and expr.args
            and isinstance(expr.args[0], ast.Constant)
            and isinstance(expr.args[0].value, str)
        ):
            return expr.args[0].value.split(".")[0]
        if isinstance(expr, ast.Name) and ":" not in self.imports.get(expr.id, ":"):
            return self.imports[expr.id]
        if isinstance(expr, ast.Attribute):
            parent = self._module(expr.value)
            return None if parent is None else f"{parent}.{expr.attr}"
        return None
