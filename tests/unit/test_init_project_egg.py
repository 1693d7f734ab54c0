"""``containerize init`` on projects that must themselves be installed (a Paste Deploy
file that says ``use = egg:NAME`` for the project's own distribution), and on ini
files that are templates, not configs. Each project is a small tree written here."""

from __future__ import annotations

from pathlib import Path

import pytest
from init_helpers import init, no_engine, table, write  # noqa: F401 (no_engine: an autouse fixture)

SETUP_PY = """\
    from setuptools import setup

    setup(
        name="Shop-Front",
        version="1.0.0",
        packages=["shop"],
        entry_points={"paste.app_factory": ["main = shop:main"]},
    )
"""
SHOP = "def main(global_config, **settings):\n    return None\n"
EGG_INI = "[app:main]\nuse = egg:shop_front\n\n[server:main]\nuse = egg:waitress#main\n"


def _run(project: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    assert init(project) == 0, capsys.readouterr().err
    return capsys.readouterr().out.splitlines()


def _next(out: list[str]) -> list[str]:
    return [line for line in out if line.startswith("next: ")]


def test_the_project_is_locked_with_its_requirements_when_paste_loads_it_as_an_egg(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """egg:shop_front is Shop-Front by its normalized name."""
    project = write(
        tmp_path,
        {
            "setup.py": SETUP_PY,
            "shop/__init__.py": SHOP,
            "production.ini": EGG_INI,
            "requirements.txt": "pastedeploy\n",
        },
    )
    out = _run(project, capsys)
    assert table(project)["app"] == "production.ini"
    assert (
        "note: lock: the project itself must be installed in the image: Paste Deploy loads the "
        "app through the installed distribution (use = egg:shop_front) (production.ini:2), and "
        "Shop-Front is the project's own distribution (setup.py:4); 'containerize lock' is given "
        "'.' to lock it with its requirements"
    ) in out
    assert _next(out) == [
        "next: 'containerize lock requirements.txt .'",
        "next: 'containerize build --dry-run'",
    ]


def test_a_setup_cfg_name_and_no_requirements_file_lock_the_project_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path,
        {
            "setup.cfg": "[metadata]\nname = shop-front\nversion = 1.0\n",
            "setup.py": "from setuptools import setup\nsetup()\n",
            "shop/__init__.py": SHOP,
            "production.ini": EGG_INI,
        },
    )
    out = _run(project, capsys)
    assert any("shop-front is the project's own distribution (setup.cfg:2)" in x for x in out)
    assert _next(out)[0] == "next: 'containerize lock .'"


def test_a_requirements_file_that_names_the_project_needs_nothing_more(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path,
        {
            "setup.py": SETUP_PY,
            "shop/__init__.py": SHOP,
            "production.ini": EGG_INI,
            "requirements.txt": "pastedeploy\n-e .\n",
        },
    )
    out = _run(project, capsys)
    assert not any("the project itself must be installed" in line for line in out)
    assert _next(out)[0] == "next: 'containerize lock requirements.txt'"


def test_a_hashed_lock_without_the_project_is_relocked_with_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path,
        {
            "setup.py": SETUP_PY,
            "shop/__init__.py": SHOP,
            "production.ini": EGG_INI,
            "requirements.txt": f"pastedeploy==3.1.0 --hash=sha256:{'a' * 64}\n",
        },
    )
    out = _run(project, capsys)
    assert any(
        line.startswith("note: lock: requirements.txt lacks the project: the project itself")
        for line in out
    ), out
    assert _next(out)[0] == "next: 'containerize lock requirements.txt .'"


def test_an_egg_of_another_distribution_needs_no_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path,
        {
            "setup.py": SETUP_PY,
            "shop/__init__.py": SHOP,
            "production.ini": "[app:main]\nuse = egg:other-app\n",
            "requirements.txt": "other-app\n",
        },
    )
    out = _run(project, capsys)
    assert not any("the project itself" in line for line in out)
    assert _next(out)[0] == "next: 'containerize lock requirements.txt'"


@pytest.mark.parametrize(
    ("template", "line", "syntax"),
    [
        ("[app:main]\nuse = egg:shop_front\nshop.debug = ${parts.settings['debug']}\n", 3,
         "${parts.settings['debug']}"),
        ("# {{ not read: a comment }}\n[app:main]\nuse = egg:shop_front\nurl = {{ db_url }}\n", 4,
         "{{ db_url }}"),
        ("[app:main]\n{% if debug %}\nuse = egg:shop_front\n{% endif %}\n", 2, "{% if debug %}"),
    ],
)  # fmt: skip
def test_a_template_ini_is_not_proposed_development_ini_is_as_when_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], template: str, line: int, syntax: str
) -> None:
    """The template is passed over with a note; development.ini is then proposed as
    it is when it is the project's only Paste Deploy file."""
    files = {
        "setup.py": SETUP_PY,
        "shop/__init__.py": SHOP,
        "development.ini": EGG_INI,
        "requirements.txt": "pastedeploy\n",
    }
    alone = write(tmp_path / "alone", files)
    alone_out = _run(alone, capsys)
    project = write(tmp_path / "with", {**files, "templates/shop.ini": template})
    out = _run(project, capsys)
    assert table(project)["app"] == table(alone)["app"] == "development.ini"
    assert (
        f"note: app: templates/shop.ini is not proposed: it is a template, not a config a "
        f"server can read ({syntax} at templates/shop.ini:{line} is left for a tool to fill in)"
    ) in out
    assert _next(out) == _next(alone_out)


FLASK_PYPROJECT = """\
    [project]
    name = "Shop-Front"
    version = "1.0.0"
    dependencies = ["flask"]

    [build-system]
    requires = ["setuptools>=61"]
    build-backend = "setuptools.build_meta"
"""


@pytest.mark.parametrize(
    "reads",
    [
        'from importlib.metadata import version\n\n__version__ = version("shop-front")\n',
        'import importlib.metadata\n\nVERSION = importlib.metadata.version("Shop_Front")\n',
        'import pkg_resources\n\nDIST = pkg_resources.get_distribution("shop-front")\n',
    ],
)
def test_an_app_that_reads_its_own_distributions_metadata_is_locked_with_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reads: str
) -> None:
    """importlib.metadata finds no metadata for a folder on the path: the project must
    be installed, and init names 'containerize lock requirements.txt .' for it."""
    project = write(
        tmp_path,
        {
            "pyproject.toml": FLASK_PYPROJECT,
            "requirements.txt": "flask\n",
            "shop/__init__.py": reads + "from flask import Flask\n\napp = Flask(__name__)\n",
        },
    )
    out = _run(project, capsys)
    assert table(project)["app"] == "shop:app"
    (note,) = [line for line in out if "the project itself must be installed" in line]
    assert note.startswith("note: lock: the project itself must be installed in the image: ")
    assert "reads the installed distribution's metadata (shop/__init__.py:3), and Shop-Front " \
        "is the project's own distribution (pyproject.toml:2)" in note  # fmt: skip
    assert _next(out) == [
        "next: 'containerize lock requirements.txt .'",
        "next: 'containerize build --dry-run'",
    ]


def test_metadata_of_another_distribution_does_not_need_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(
        tmp_path,
        {
            "pyproject.toml": FLASK_PYPROJECT,
            "requirements.txt": "flask\n",
            "shop/__init__.py": "from importlib.metadata import version\n\n"
            'FLASK = version("flask")\nfrom flask import Flask\n\napp = Flask(__name__)\n',
        },
    )
    out = _run(project, capsys)
    assert not [line for line in out if "the project itself must be installed" in line]
    assert _next(out)[0] == "next: 'containerize lock requirements.txt'"


def test_a_uv_lock_without_the_project_says_what_makes_uv_install_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """uv.lock records a virtual root: uv does not install the project, and neither
    does the build; the note says what makes uv install it."""
    project = write(
        tmp_path,
        {
            "pyproject.toml": FLASK_PYPROJECT.replace(
                '    dependencies = ["flask"]\n', "    dependencies = []\n"
            ).split("[build-system]")[0],
            "uv.lock": 'version = 1\nrequires-python = ">=3.11"\n\n[[package]]\n'
            'name = "shop-front"\nversion = "1.0.0"\nsource = { virtual = "." }\n',
            "shop/__init__.py": "from importlib.metadata import version\n\n"
            '__version__ = version("shop-front")\n\n'
            "def application(environ, start_response):\n"
            "    start_response('200 OK', [])\n    return [b'']\n",
        },
    )
    out = _run(project, capsys)
    (note,) = [line for line in out if "the project itself must be installed" in line]
    assert note.startswith("note: lock: uv.lock lacks the project: "), note
    assert note.endswith(
        "uv installs the project when pyproject.toml has a [build-system] (and no "
        "tool.uv.package = false): add one, then 'uv lock'"
    ), note
