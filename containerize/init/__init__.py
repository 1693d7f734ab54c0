"""``containerize init``: read a project, propose its ``[tool.containerize]`` table.

Nothing of the user's is imported or run: Python sources are read with :mod:`ast`,
``pyproject.toml`` and the lock with their readers. The pipeline, one room each:

- :mod:`~containerize.init.sources`: the project's Python files and their module names;
- :mod:`~containerize.init.apps`: WSGI application candidates (``wsgi.py``, WSGI
  callables, Flask apps and factories) and the choice among them;
- :mod:`~containerize.init.django`: Django settings (``WSGI_APPLICATION``, static files,
  ``ALLOWED_HOSTS``);
- :mod:`~containerize.init.locks`: the lock file, or the requirements set production
  installs;
- :mod:`~containerize.init.python`: the Python version and a base image that has it;
- :mod:`~containerize.init.environment`: the settings an import reads from the
  environment, for the test environment;
- :mod:`~containerize.init.health`: the health-check path;
- :mod:`~containerize.init.detect`: all of it, as one :class:`Detection`;
- :mod:`~containerize.init.verify`: whether the app proposed imports, once, in the
  build's check stage (the one step that runs the user's code, in a container; the
  command runs the build);
- :mod:`~containerize.init.table`: the table written into ``pyproject.toml`` (made if
  there is none) with tomlkit, checked by :func:`containerize.config.load` first.
"""
