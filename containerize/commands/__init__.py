"""What each ``containerize`` command does, shared by the CLI and the Nox sessions.

Each command takes plain values, calls the library, prints for a person, and returns
an exit code. Failures are raised as :class:`~containerize.errors.ContainerizeError`
for the caller (``cli.main`` or a Nox session) to report. One module per group:

- :mod:`~containerize.commands.machine`: the machine's facts, asked once
  (``machine()``), and ``doctor``, ``engine``, ``base-image``, ``service-image``;
- :mod:`~containerize.commands.building`: ``wheelhouse``, ``build``, ``list``;
- :mod:`~containerize.commands.locking`: ``pin``, ``lock``;
- :mod:`~containerize.commands.setup`: ``init``, ``dockerignore``;
- :mod:`~containerize.commands.testing`: ``test``, and the matrix a release runs;
- :mod:`~containerize.commands.releasing`: ``release``;
- :mod:`~containerize.commands.guards`: what a run that writes the build folder does
  around it.
"""
