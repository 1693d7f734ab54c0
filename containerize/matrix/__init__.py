"""The container test matrix: every server's image on every platform, really run.

``plan`` turns the configuration into frozen :class:`~containerize.matrix.plan.Cell`
records (pure, unit-tested without an engine). What is asked of one running container
is in ``checks`` (the records every check shares, readiness), ``httpchecks`` (probes,
static files, hosts, the burst) and ``containerchecks`` (metadata, user, build tools,
size, read-only, stopping). ``runner`` starts each cell's container, runs the checks in
order, stops and removes it (always), and runs the cells side by side. ``report``
prints the table and keeps each cell's latest result, the Markdown report and the JUnit
XML in the build folder. ``pytest_plugin`` gives a project's own tests the running
container.
"""
