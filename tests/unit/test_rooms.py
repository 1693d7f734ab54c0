"""The rooms of containerize stand in one order: no module imports from a room above it.

A room is a top-level module (``config``) or a package (``image/``). Each floor below
lists rooms that stand side by side: a module may import from its own room and from
any room on a lower floor, never from a room on its own floor or a higher one. When
two rooms need the same thing, it moves down to a floor both stand on.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import containerize

PACKAGE = Path(containerize.__file__).parent

#: Bottom first. ``__init__`` is the package itself (its ``__version__``).
FLOORS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors"),
    (
        "declare",
        "process",
        "platforms",
        "tables",
        "reference",
        "bases",
        "servers",
        "tagrules",
        "buildsteps",
        "runtime",
        "buildfolder",
    ),
    (
        "fsutil",
        "project",
        "targets",
        "syspackages",
        "appspec",
        "staticfiles",
        "testsettings",
        "writablepaths",
    ),
    ("valuechecks", "testenv"),
    ("registry", "options", "engine"),
    ("config",),
    ("resolve",),
    ("image",),
    ("matrix", "release", "host", "init", "workspace"),
    ("commands",),
    ("cli",),
    ("nox", "__main__"),
)


def floor_of(room: str) -> int:
    for number, rooms in enumerate(FLOORS):
        if room in rooms:
            return number
    raise KeyError(room)


def room_of_file(path: Path, root: Path) -> str:
    """The room *path* stands in: its package's first folder, or its module's name."""
    parts = path.relative_to(root).parts
    if len(parts) == 1:
        return "__init__" if parts[0] == "__init__.py" else Path(parts[0]).stem
    return parts[0]


def imported_rooms(node: ast.AST, root: Path) -> list[str]:
    """The rooms one import statement reads from (``containerize.*`` only)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        if node.module != "containerize":
            names = [node.module]
        else:  # from containerize import config, __version__
            names = [f"containerize.{a.name}" for a in node.names]
    else:
        return []
    rooms = []
    for name in names:
        parts = name.split(".")
        if parts[0] != "containerize":
            continue
        if len(parts) == 1:
            rooms.append("__init__")
        elif (root / f"{parts[1]}.py").is_file() or (root / parts[1]).is_dir():
            rooms.append(parts[1])
        else:  # a name the package itself defines
            rooms.append("__init__")
    return rooms


def upward_imports(root: Path = PACKAGE) -> list[str]:
    """Every import in *root* that reads from its own floor or a higher one, as
    ``file:line: room -> room``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        room = room_of_file(path, root)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            for target in imported_rooms(node, root):
                if target != room and floor_of(target) >= floor_of(room):
                    where = f"{path.relative_to(root.parent)}:{getattr(node, 'lineno', 0)}"
                    found.append(f"{where}: {room} -> {target}")
    return found


def test_every_room_has_a_floor() -> None:
    rooms = {room_of_file(p, PACKAGE) for p in PACKAGE.rglob("*.py")}
    placed = {room for floor in FLOORS for room in floor}
    assert sorted(rooms - placed) == [], "add the new room to FLOORS"
    assert sorted(placed - rooms) == [], "remove the room that is gone from FLOORS"


def test_no_import_points_upward() -> None:
    assert upward_imports() == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from containerize.image import plan\n", ["containerize/engine/x.py:1: engine -> image"]),
        ("import containerize.commands\n", ["containerize/engine/x.py:1: engine -> commands"]),
        ("from containerize import config\n", ["containerize/engine/x.py:1: engine -> config"]),
        (
            "def f():\n    from containerize import resolve\n",
            ["containerize/engine/x.py:2: engine -> resolve"],
        ),
        ("from containerize import errors, __version__\n", []),
        ("from containerize.engine import docker\n", []),
    ],
)
def test_an_upward_import_is_found(tmp_path: Path, source: str, expected: list[str]) -> None:
    """The check itself: a room reaching up, or sideways, is reported with its line."""
    root = tmp_path / "containerize"
    for room in ("image", "engine", "resolve"):
        (root / room).mkdir(parents=True)
        (root / room / "__init__.py").write_text("")
    for module in ("commands", "config", "errors"):
        (root / f"{module}.py").write_text("")
    (root / "__init__.py").write_text("__version__ = '0'\n")
    (root / "engine" / "x.py").write_text(source)
    found = [line for line in upward_imports(root) if "engine/x.py" in line]
    assert found == expected
