from __future__ import annotations

from pathlib import Path

import pytest
from lock_testdata import HELLO, LOCKS
from packaging.specifiers import SpecifierSet

from containerize.errors import ConfigError
from containerize.project import load as project_load
from containerize.project import poetry_specifier, python_marker, read_project


@pytest.mark.parametrize(
    ("constraint", "specifier"),
    [
        ("^3.11", ">=3.11,<4.0"),
        ("^1.2.3", ">=1.2.3,<2.0"),
        ("^0.2.3", ">=0.2.3,<0.3"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("^0", ">=0,<1.0"),
        ("~1.2.3", ">=1.2.3,<1.3"),
        ("~1.2", ">=1.2,<1.3"),
        ("~1", ">=1,<2.0"),
        ("~=1.4", "~=1.4"),
        ("1.2.*", "==1.2.*"),
        ("2.0.1", "==2.0.1"),
        ("*", ""),
        (">=1.2 <2.0", ">=1.2,<2.0"),
        (">=1.2,!=1.5.*", ">=1.2,!=1.5.*"),
        ("^1.0 || ^2.0", ""),
    ],
)
def test_poetry_constraints_become_pep440(constraint: str, specifier: str) -> None:
    assert poetry_specifier(constraint) == SpecifierSet(specifier)


def test_bad_poetry_constraint_names_where() -> None:
    with pytest.raises(ConfigError, match=r"pyproject.toml: tool.poetry.x: cannot read"):
        poetry_specifier("^banana", where="tool.poetry.x", file=Path("pyproject.toml"))


def test_python_marker() -> None:
    assert python_marker(poetry_specifier("<3.12")) == 'python_full_version < "3.12"'
    assert python_marker(poetry_specifier("3.11")) == 'python_version == "3.11"'


def test_pep621_project() -> None:
    project = project_load(LOCKS / "uv")
    assert project.dialect == "pep621"
    assert project.name == "shop"
    assert [r.name for r in project.dependencies] == ["click", "flask", "sqlalchemy", "tomli"]
    assert project.group_names == ("main", "dev", "servers")
    assert project.extra_names == ("yaml",)
    assert [r.name for r in project.requirements(groups=("servers",))] == [
        "gunicorn",
        "mod-wsgi",
        "pyuwsgi",
    ]


def test_poetry_project() -> None:
    project = project_load(LOCKS / "poetry1")
    assert project.dialect == "poetry"
    assert str(project.requires_python) == "<4.0,>=3.11"
    deps = {r.name: r for r in project.dependencies}
    assert "pyyaml" not in deps  # optional: only through the extra
    assert str(deps["tomli"].marker) == 'python_full_version < "3.12"'
    assert [r.name for r in project.extra_requirements("yaml")] == ["pyyaml"]
    assert [str(r) for r in project.group_requirements("dev")] == ["pytest<9.0,>=8.0"]


def test_hello_wsgi_project() -> None:
    project = project_load(HELLO)
    assert project.dependencies == ()
    assert project.group_names == ("main", "servers")


def test_poetry_details_and_dependency_groups(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(
        """
[tool.poetry.dependencies]
python = ">=3.11"
numpy = [
    {version = "<2", python = "<3.12"},
    {version = ">=2", python = ">=3.12"},
]
pywin32 = {version = "*", platform = "win32"}
uvloop = {version = "^0.19", markers = "implementation_name == 'cpython'", extras = ["x"]}
mylib = {git = "https://git.invalid/mylib.git"}

[[tool.poetry.source]]
name = "internal"
url = "https://index.invalid/simple"
priority = "primary"

[dependency-groups]
test = ["pytest", {include-group = "lint"}]
lint = ["ruff"]
"""
    )
    project = read_project(path)
    shown = [str(r) for r in project.dependencies]
    assert shown == [
        "mylib",
        'numpy<2; python_full_version < "3.12"',
        'numpy>=2; python_full_version >= "3.12"',
        'pywin32; sys_platform == "win32"',
        'uvloop[x]<0.20,>=0.19; implementation_name == "cpython"',
    ]
    assert [r.name for r in project.group_requirements("test")] == ["pytest", "ruff"]
    assert project.sources[0].name == "internal"
    assert project.sources[0].priority == "primary"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[project]\ndependencies = ["flask >"]\n', "pyproject.toml: project.dependencies[0]"),
        (
            "[project]\ndependencies = 3\n",
            "pyproject.toml: project.dependencies: expected an array",
        ),
        (
            "[tool.poetry.dependencies]\nflask = 3\n",
            "pyproject.toml: tool.poetry.dependencies.flask: expected a version string",
        ),
        (
            '[dependency-groups]\na = [{include-group = "b"}]\n',
            "pyproject.toml: dependency-groups.a[0]: includes unknown group 'b'",
        ),
        (
            '[tool.poetry.dependencies]\nx = "^1"\n[tool.poetry.extras]\ne = ["y"]\n',
            "tool.poetry.extras.e[0]: 'y' is not an optional dependency",
        ),
        ("[project\n", "pyproject.toml: not valid TOML"),
    ],
)
def test_malformed_pyproject(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        read_project(path)
    assert message in str(info.value)


def test_unknown_group_lists_the_known_ones() -> None:
    project = project_load(HELLO)
    with pytest.raises(ConfigError, match="'dev' is not a dependency group") as info:
        project.group_requirements("dev")
    assert info.value.message.startswith("pyproject.toml: tool.containerize.groups: ")
    assert info.value.hint == "choose among this project's groups: main, servers"
