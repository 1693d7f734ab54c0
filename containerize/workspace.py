"""Targets: the images of a repository that holds several apps.

A target is one of:

- a folder below the repository's root with its own ``[tool.containerize]`` (a uv
  workspace member, say, that names the workspace's lock with ``lock = "../../uv.lock"``),
  named by its folder;
- an entry ``[tool.containerize.targets.NAME]`` of the root's ``pyproject.toml``: the
  root's own keys with the entry's over them, built from the root's folder.

A root whose ``[tool.containerize]`` names an ``app`` and no targets is one project, as
always: it has no targets. :func:`find` lists the targets, :func:`load` makes each one's
configuration, :func:`changed_since` picks those a git change touches: their own files,
or a local package they install (a workspace library).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from containerize import config, process
from containerize.errors import ConfigError
from containerize.project import load as project_load
from containerize.project import read_project
from containerize.resolve import lock as lockmod
from containerize.resolve.localpkgs import SKIPPED_DIRS

#: How deep below the root folder targets are looked for.
MAX_DEPTH = 4


@dataclass(frozen=True, kw_only=True)
class Target:
    """One image (one per server) of the repository."""

    name: str
    root: Path  # the repository's root, where the build started
    project_dir: Path  # the folder whose pyproject.toml it is built from
    #: The keys of ``[tool.containerize.targets.NAME]``; empty for a folder target.
    entry: Mapping[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """Where it is declared, for messages."""
        if self.entry:
            return f"pyproject.toml: tool.containerize.targets.{self.name}"
        return os.path.relpath(self.project_dir / "pyproject.toml", self.root)


def find(root: Path) -> tuple[Target, ...]:
    """The targets below *root*, sorted by name; empty when *root* is one project."""
    root = root.resolve()
    table = _containerize_table(root / "pyproject.toml", strict=False)
    entries = table.get("targets") if table is not None else None
    if table is not None and "app" in table and not entries:
        return ()
    found: dict[str, Target] = {}
    if isinstance(entries, dict):
        for name, entry in entries.items():
            found[name] = Target(
                name=name,
                root=root,
                project_dir=root,
                entry=entry if isinstance(entry, dict) else {},
            )
    for folder in _folders(root):
        if _containerize_table(folder / "pyproject.toml", strict=True) is None:
            continue
        target = Target(name=folder.name, root=root, project_dir=folder)
        other = found.get(target.name)
        if other is not None:
            raise ConfigError(
                f"two targets are named {target.name!r}: {other.where} and {target.where}",
                hint="rename one folder, or the [tool.containerize.targets] entry",
            )
        found[target.name] = target
    return tuple(found[name] for name in sorted(found))


def select(targets: Sequence[Target], names: Sequence[str]) -> tuple[Target, ...]:
    """The targets called *names* (all of them without names)."""
    if not names:
        return tuple(targets)
    by_name = {t.name: t for t in targets}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError(
            f"no target named {', '.join(map(repr, unknown))}",
            hint=f"the targets here are: {', '.join(by_name) or 'none'} (see 'containerize list')",
        )
    return tuple(by_name[n] for n in names)


def load(target: Target, overrides: Mapping[str, Any] | None = None) -> config.Config:
    """*target*'s configuration: its folder's, or the root's with its entry over it."""
    if not target.entry:
        return config.load(target.project_dir, overrides=overrides)
    project = project_load(target.project_dir)
    data = dict(project.data or {})
    tool = dict(data.get("tool", {}))
    own = {k: v for k, v in tool.get("containerize", {}).items() if k != "targets"}
    tool["containerize"] = {**own, **target.entry}
    data["tool"] = tool
    cfg = config.load(target.project_dir, overrides=overrides, project=replace(project, data=data))
    # Each entry builds in a folder of its own: two targets never share a context.
    if cfg.build_dir == target.project_dir / ".containerize":
        cfg = replace(cfg, build_dir=cfg.build_dir / "targets" / target.name)
    return cfg


def configs(
    project: Path,
    names: Sequence[str] = (),
    overrides: Mapping[str, Any] | None = None,
    *,
    changed_since_ref: str | None = None,
) -> list[tuple[str, config.Config]]:
    """What a command run in *project* works on, by target name: the project alone
    (name ``""``), or each target of a repository with several, those of *names* when
    given, and of those the ones changed since *changed_since_ref* when given (the
    others are named in a line printed here)."""
    found = find(project)
    if not found:
        if names or changed_since_ref:
            raise ConfigError(
                f"{project}: one project, no targets"
                + (f" (asked for {', '.join(names)})" if names else ""),
                hint="targets are folders below this one with their own [tool.containerize], "
                "or [tool.containerize.targets.NAME] entries",
            )
        return [("", config.load(project, overrides=overrides))]
    chosen = select(found, names)
    by_name = {t.name: load(t, overrides) for t in chosen}
    if changed_since_ref is not None:
        picked = changed_since(chosen, by_name, changed_since_ref, project)
        left = [t.name for t in chosen if t not in picked]
        if left:
            print(f"unchanged since {changed_since_ref}, not built: {', '.join(left)}")
        chosen = picked
    return [(t.name, by_name[t.name]) for t in chosen]


def source_folders(cfg: config.Config) -> tuple[Path, ...]:
    """The files and folders that make *cfg*'s image: its app folder, its
    ``pyproject.toml`` and pins, its lock, and the folders of the local packages it
    installs (resolved paths)."""
    folders = {cfg.app_root.resolve(), cfg.project.path.resolve()}
    for name in ("containerize.lock", "containerize-build.lock"):
        folders.add((cfg.project_dir / name).resolve())
    lock = lockmod.for_project(lockmod.load_locks(cfg.project_dir, cfg.locks), cfg.project_dir)
    folders.add(lock.path.resolve())
    wanted = _installed_locals(lock)
    for package in lock.local_packages:
        if package.name in wanted and package.local is not None:
            folders.add((lock.path.parent / package.local).resolve())
    return tuple(sorted(folders))


def changed_since(
    targets: Sequence[Target], configs: Mapping[str, config.Config], ref: str, root: Path
) -> tuple[Target, ...]:
    """The *targets* a change since git *ref* touches: a file in one of their
    :func:`source_folders` (their own, or a local package they install)."""
    changed = changed_files(ref, root)
    picked = []
    for target in targets:
        folders = source_folders(configs[target.name])
        if any(_inside(path, folders) for path in changed):
            picked.append(target)
    return tuple(picked)


def changed_files(ref: str, root: Path) -> tuple[Path, ...]:
    """The files that differ from git *ref*: committed since, staged, or in the work
    tree, and new files git does not ignore (absolute paths)."""
    top = process.run(["git", "rev-parse", "--show-toplevel"], cwd=root, check=False, timeout=30)
    if top.returncode != 0:
        raise ConfigError(
            f"--changed-since {ref}: {root} is not in a git work tree",
            hint="run it in a git checkout, or build the targets by name",
        )
    base = Path(top.stdout.strip())
    diff = process.run(
        ["git", "diff", "--name-only", "--no-renames", ref, "--"], cwd=root, check=False, timeout=60
    )
    if diff.returncode != 0:
        raise ConfigError(
            f"--changed-since {ref}: git cannot compare with {ref!r}: "
            f"{diff.stderr.strip() or diff.stdout.strip()}",
            hint="name a commit, branch or tag this clone has (fetch it first in a shallow "
            "CI clone: git fetch --depth=1 origin REF)",
        )
    new = process.run(
        ["git", "ls-files", "--others", "--exclude-standard"], cwd=base, check=True, timeout=60
    )
    names = {*diff.stdout.splitlines(), *new.stdout.splitlines()}
    return tuple(sorted((base / name).resolve() for name in names if name))


def _installed_locals(lock: lockmod.Lock) -> set[str]:
    """The local packages the lock's roots reach (names), following its edges."""
    todo = [*lock.root_names("main")]
    if lock.project_package is not None:
        todo.append(lock.project_package)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for package in lock.find(canonicalize_name(name)):
            todo.extend(d.name for d in package.dependencies)
    return {p.name for p in lock.local_packages if p.name in seen}


def _inside(path: Path, folders: Sequence[Path]) -> bool:
    return any(path == folder or folder in path.parents for folder in folders)


def _containerize_table(path: Path, *, strict: bool) -> dict[str, Any] | None:
    """The ``[tool.containerize]`` table of *path*; None without one. A file that
    cannot be read is an error when *strict*, else None (the root's own errors are
    then reported by the configuration's loader, as for any project)."""
    if not path.is_file():
        return None
    try:
        project = read_project(path)
    except ConfigError:
        if strict:
            raise
        return None
    tool = (project.data or {}).get("tool")
    table = tool.get("containerize") if isinstance(tool, dict) else None
    return table if isinstance(table, dict) else None


def _folders(root: Path) -> list[Path]:
    found = []
    for current, dirs, _ in os.walk(root):
        depth = len(Path(current).relative_to(root).parts)
        dirs[:] = sorted(
            d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".") and depth < MAX_DEPTH
        )
        if Path(current) != root:
            found.append(Path(current))
    return found
