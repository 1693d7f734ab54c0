"""``tool.containerize.app`` and ``app-directory``: which WSGI application, from where."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

from containerize.declare import Values
from containerize.errors import ConfigError

#: What ``app`` accepts, for errors, ``--help`` and the README.
APP_EXPECTS = (
    "'module:callable', a factory 'module:function()' (literal arguments "
    "allowed), a WSGI script file 'path/app.wsgi', or a Paste Deploy file "
    "'path/app.ini' (with '#name' for an app other than main)"
)

_APP_RE = re.compile(
    r"^(?P<module>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)"
    r"(?::(?P<callable>[A-Za-z_]\w*)(?P<call>\(.*\))?)?$",
    re.ASCII | re.DOTALL,
)

AppKind = Literal["callable", "factory", "script", "paste"]


@dataclass(frozen=True, kw_only=True)
class AppSpec:
    """The WSGI application, as ``tool.containerize.app`` names it."""

    kind: AppKind
    module: str | None = None  # callable and factory
    callable: str | None = None  # callable and factory
    args: str | None = None  # factory: the literal arguments' source, checked
    path: str | None = None  # script and paste: a POSIX path relative to the app folder
    section: str | None = None  # paste: the app's name in the ini file

    def __str__(self) -> str:
        if self.kind == "callable":
            return f"{self.module}:{self.callable}"
        if self.kind == "factory":
            return f"{self.module}:{self.callable}({self.args})"
        return f"{self.path}#{self.section}" if self.section else str(self.path)

    def files(self) -> tuple[str, ...]:
        """The app folder's files, one of which must go into the image for the app to load."""
        if self.module is None:
            return (str(self.path),)
        base = self.module.replace(".", "/")
        return (f"{base}.py", f"{base}/__init__.py")

    def to_json(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "module": self.module,
            "callable": self.callable,
            "args": self.args,
            "path": self.path,
            "section": self.section,
        }


def check_app_directory(text: str, where: str, values: Values) -> PurePosixPath:
    """The app folder: an existing folder inside the project, not in the build folder.

    A symbolic link that stays inside the project is followed; one that leads out of
    it is refused, since the image would then hold files from elsewhere.
    """
    project_dir: Path = values.project_dir
    build_dir: Path = values.get("build-dir")
    posix = PurePosixPath(text)
    if "\\" in text or posix.is_absolute() or ".." in posix.parts:
        raise ConfigError(
            f"{where}: {text!r} is not a folder inside the project",
            hint="name it relative to pyproject.toml, without '..', e.g. 'site' for "
            "site/manage.py; '.' is the project's own folder",
        )
    folder = project_dir / posix
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise ConfigError(
            f"{where}: {folder} {what}",
            hint="name the folder that holds the application's code (Django: the one "
            "with manage.py), relative to pyproject.toml",
        )
    real = folder.resolve()
    if not real.is_relative_to(project_dir):
        raise ConfigError(
            f"{where}: {text!r} leads to {real} through a symbolic link, outside the "
            f"project ({project_dir})",
            hint="move or copy the application into the project",
        )
    if real.is_relative_to(build_dir):
        raise ConfigError(
            f"{where}: {text!r} is inside the build folder ({build_dir}), which "
            "containerize empties and rewrites",
            hint="name the folder that holds the application's code, or move build-dir",
        )
    return posix


def check_app(text: str | None, where: str, values: Values) -> AppSpec:
    """The application ``app`` names, relative to the app folder."""
    if text is None:
        raise ConfigError(
            "tool.containerize.app is missing",
            hint='name the WSGI application, for example app = "myproject.wsgi:application"',
        )
    app_root = values.project_dir / values.get("app-directory")
    text = text.strip()
    path, _, section = text.partition("#")
    # 'mysite.wsgi' is Django's module and 'app.wsgi' a script file: a file wins.
    if path.endswith(".ini") or (
        path.endswith(".wsgi")
        and ("/" in path or section or (app_root / path).is_file() or not _APP_RE.match(path))
    ):
        return _app_file(path, section, where)
    if section:
        raise ConfigError(f"{where}: '#' names an app in a Paste Deploy .ini file: {text!r}")
    match = _APP_RE.match(text)
    if match is None:
        raise ConfigError(
            f"{where}: {text!r} is not an application",
            hint=f"write {APP_EXPECTS}; e.g. 'hello:application' for a file "
            "hello.py that defines application, or 'flaskr:create_app()'",
        )
    module, name, call = match["module"], match["callable"] or "application", match["call"]
    if call is None:
        return AppSpec(kind="callable", module=module, callable=name)
    return AppSpec(kind="factory", module=module, callable=name, args=_factory_args(call, where))


def _factory_args(call: str, where: str) -> str:
    """The argument list of ``name(...)``, checked to hold literals only, as Gunicorn does."""
    try:
        tree = ast.parse(f"f{call}", mode="eval").body
    except SyntaxError:
        raise ConfigError(
            f"{where}: {call!r} is not a call", hint="write e.g. 'create_app()'"
        ) from None
    if not isinstance(tree, ast.Call) or not isinstance(tree.func, ast.Name):
        raise ConfigError(f"{where}: {call!r} is not a call", hint="write e.g. 'create_app()'")
    for node in (*tree.args, *(kw.value for kw in tree.keywords)):
        try:
            ast.literal_eval(node)
        except ValueError:
            raise ConfigError(
                f"{where}: factory argument {ast.unparse(node)!r} is not a literal",
                hint="pass strings, numbers, True/False/None, lists, tuples or dicts of them",
            ) from None
    if any(kw.arg is None for kw in tree.keywords) or any(
        isinstance(arg, ast.Starred) for arg in tree.args
    ):
        raise ConfigError(f"{where}: {call!r}: '*' and '**' arguments are not supported")
    return ", ".join(
        [ast.unparse(arg) for arg in tree.args]
        + [f"{kw.arg}={ast.unparse(kw.value)}" for kw in tree.keywords]
    )


def _app_file(path: str, section: str, where: str) -> AppSpec:
    posix = PurePosixPath(path)
    if (
        posix.is_absolute()
        or not posix.parts
        or any(part in ("", ".", "..") for part in posix.parts)
        or "\\" in path
    ):
        raise ConfigError(
            f"{where}: {path!r} is not a file inside the project",
            hint="name it relative to the app folder (tool.containerize.app-directory, "
            "by default pyproject.toml's), e.g. 'deploy/app.wsgi'",
        )
    if path.endswith(".wsgi"):
        if section:
            raise ConfigError(f"{where}: '#{section}' applies to Paste Deploy .ini files only")
        return AppSpec(kind="script", path=posix.as_posix(), callable="application")
    if section and not re.fullmatch(r"[A-Za-z0-9_.-]+", section):
        raise ConfigError(f"{where}: {section!r} is not a Paste Deploy app name")
    return AppSpec(kind="paste", path=posix.as_posix(), section=section or "main")
