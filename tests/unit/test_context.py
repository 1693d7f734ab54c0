from __future__ import annotations

from pathlib import Path

import pytest

from containerize import config
from containerize.errors import ConfigError
from containerize.image import context


def project(tmp_path: Path, table: str = "") -> config.Config:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n[tool.containerize]\napp = "demo.wsgi"\n' + table
    )
    for name in (
        "demo/__init__.py",
        "demo/wsgi.py",
        "demo/static/site.css",
        ".env",
        ".git/config",
        "tests/test_demo.py",
        "demo/__pycache__/wsgi.cpython-311.pyc",
        ".venv/bin/python",
        "poetry.lock",
        "Pipfile",
        "Pipfile.lock",
        "pdm.lock",
        "pylock.toml",
        "noxfile.py",
        ".containerize/wheelhouse/x.whl",
    ):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return config.load(tmp_path, environ={})


def test_only_what_the_image_needs(tmp_path: Path) -> None:
    """Not the project's pyproject.toml either: it is for building, and its test table
    may hold values no image may carry."""
    files = [str(f) for f in context.app_files(project(tmp_path))]
    assert files == ["demo/__init__.py", "demo/static/site.css", "demo/wsgi.py"]


def test_pyproject_goes_in_when_included(tmp_path: Path) -> None:
    cfg = project(tmp_path, 'include = ["demo", "pyproject.toml"]\n')
    assert "pyproject.toml" in [str(f) for f in context.app_files(cfg)]


@pytest.mark.parametrize(
    "test_table",
    [
        '[tool.containerize.test]\nenv = { SECRET_KEY = "s3cret" }\n',
        '[tool.containerize.test.services.db]\nimage = "postgres:16"\nport = 5432\n'
        'env = { POSTGRES_PASSWORD = "s3cret" }\n',
    ],
)
def test_an_included_pyproject_must_not_carry_test_values(tmp_path: Path, test_table: str) -> None:
    cfg = project(tmp_path, 'include = ["demo", "pyproject.toml"]\n' + test_table)
    with pytest.raises(ConfigError, match="must never be baked into an image") as raised:
        context.app_files(cfg)
    assert "env-file" in (raised.value.hint or "")


def test_include_and_exclude(tmp_path: Path) -> None:
    cfg = project(tmp_path, 'include = ["demo"]\nexclude = ["*.css"]\n')
    assert [str(f) for f in context.app_files(cfg)] == ["demo/__init__.py", "demo/wsgi.py"]


def test_exclude_a_folder_by_path(tmp_path: Path) -> None:
    cfg = project(tmp_path, 'exclude = ["demo/static"]\n')
    assert "demo/static/site.css" not in [str(f) for f in context.app_files(cfg)]


def test_app_module_must_be_in_the_image(tmp_path: Path) -> None:
    cfg = project(tmp_path, 'include = ["pyproject.toml"]\n')
    with pytest.raises(ConfigError, match=r"'demo\.wsgi:application' is not among the files"):
        context.app_files(cfg)


def test_assemble_replaces_atomically(tmp_path: Path) -> None:
    cfg = project(tmp_path)
    dest = cfg.build_dir / "context"
    dest.parent.mkdir(exist_ok=True)
    first = context.assemble(
        "FROM scratch\n", app_root=cfg.app_root, files=context.app_files(cfg), dest=dest
    )
    (tmp_path / "demo" / "static" / "site.css").unlink()
    second = context.assemble(
        "FROM scratch\n# 2\n", app_root=cfg.app_root, files=context.app_files(cfg), dest=dest
    )
    assert len(second.files) == len(first.files) - 1
    assert not (dest / "app" / "demo" / "static" / "site.css").exists()
    assert (dest / "Dockerfile").read_text().endswith("# 2\n")
    assert sorted(p.name for p in dest.parent.iterdir()) == ["context", "wheelhouse"]


def subfolder_project(tmp_path: Path, table: str = "") -> config.Config:
    """site/manage.py and site/website/: the app folder is site/."""
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n[tool.containerize]\napp-directory = "site"\n'
        'app = "website.wsgi"\nlock = "poetry.lock"\n' + table
    )
    for name in (
        "poetry.lock",
        "README.md",
        "docs/index.md",
        "site/manage.py",
        "site/website/__init__.py",
        "site/website/wsgi.py",
        "site/static/site.css",
        "site/requirements.txt",
        "site/tests/test_views.py",
        "site/.env",
    ):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    return config.load(tmp_path, environ={})


def test_only_the_app_folder_goes_in(tmp_path: Path) -> None:
    """Its tree, with the same excludes; nothing beside it: pyproject.toml and the lock
    are for building. Paths are relative to the app folder."""
    cfg = subfolder_project(tmp_path)
    assert [str(f) for f in context.app_files(cfg)] == [
        "manage.py",
        "static/site.css",
        "website/__init__.py",
        "website/wsgi.py",
    ]
    dest = tmp_path / ".containerize" / "context"
    dest.parent.mkdir(exist_ok=True)
    context.assemble(
        "FROM scratch\n", app_root=cfg.app_root, files=context.app_files(cfg), dest=dest
    )
    assert (dest / "app" / "website" / "wsgi.py").read_text() == "site/website/wsgi.py"
    assert not (dest / "app" / "site").exists()


def test_include_and_exclude_are_relative_to_the_app_folder(tmp_path: Path) -> None:
    cfg = subfolder_project(tmp_path, 'exclude = ["static"]\n')
    assert "static/site.css" not in [str(f) for f in context.app_files(cfg)]
    cfg = subfolder_project(tmp_path, 'include = ["website"]\n')
    assert [str(f) for f in context.app_files(cfg)] == ["website/__init__.py", "website/wsgi.py"]


def test_an_app_outside_the_app_folder_is_named(tmp_path: Path) -> None:
    subfolder_project(tmp_path)
    cfg = config.load(tmp_path, environ={}, overrides={"app": "site.website.wsgi"})
    with pytest.raises(ConfigError, match=r"looked for site/website/wsgi\.py .* in .*/site\)"):
        context.app_files(cfg)


def test_a_package_named_like_a_module_python_imports_at_start(tmp_path: Path) -> None:
    """site/site/wsgi.py: 'site' is the standard library's, already imported."""
    cfg = subfolder_project(tmp_path)
    for name in ("site/site/__init__.py", "site/site/wsgi.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    cfg = config.load(tmp_path, environ={}, overrides={"app": "site.wsgi:application"})
    with pytest.raises(ConfigError, match="the standard library's site module") as info:
        context.app_files(cfg)
    assert info.value.hint is not None
    assert "rename the app's package site/" in info.value.hint
