"""PostgreSQL and Redis images made from Debian's packages, for machines that cannot pull
the official ones: the services a matrix cell starts beside the app.

They are made the way the Python base images are (:mod:`containerize.host.baseimage`):
an ``mmdebstrap`` root file system per architecture, a ``FROM scratch`` build pushed to
the loopback registry, both cached by a key over the recipe. What the official images'
users rely on is kept: PostgreSQL takes ``POSTGRES_PASSWORD`` (required),
``POSTGRES_USER`` and ``POSTGRES_DB``, initialises its cluster on the first start,
listens on every address and runs as the ``postgres`` user; Redis listens on every
address without protected mode, as user ``redis``.
"""

from __future__ import annotations

from dataclasses import replace

from containerize.errors import ConfigError
from containerize.host import baseimage
from containerize.platforms import Platform
from containerize.testsettings import SERVICE_IMAGES

#: Runs as root: makes the data folder, initialises the cluster once, then becomes
#: the postgres user and replaces itself with the server.
_POSTGRES_ENTRYPOINT = r"""#!/bin/sh
# PostgreSQL for tests, as containerize's service image starts it.
set -eu
: "${POSTGRES_PASSWORD:?is required: docker run --env POSTGRES_PASSWORD=...}"
user="${POSTGRES_USER:-postgres}"
db="${POSTGRES_DB:-$user}"
as_postgres="setpriv --reuid=postgres --regid=postgres --init-groups"
mkdir -p "$PGDATA" /run/postgresql
chown postgres:postgres "$PGDATA" /run/postgresql
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    chown postgres "$pwfile"
    $as_postgres initdb --pgdata="$PGDATA" --username="$user" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    printf 'host all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
    if [ "$db" != postgres ]; then
        printf 'CREATE DATABASE "%s" OWNER "%s";\n' "$db" "$user" \
            | $as_postgres postgres --single -jE -D "$PGDATA" postgres >/dev/null
    fi
    echo "containerize-postgres: cluster initialised for user $user, database $db"
fi
exec $as_postgres postgres -D "$PGDATA" -c listen_addresses='*' "$@"
"""

RECIPES: dict[str, baseimage.Recipe] = {
    "postgres": baseimage.Recipe(
        repository=SERVICE_IMAGES["postgres"].rpartition(":")[0],
        tag=SERVICE_IMAGES["postgres"].rpartition(":")[2],
        suite="bookworm",
        packages=("postgresql-15",),
        # The package makes a cluster 'main' of its own; the entrypoint makes the one used.
        customize=("rm -rf $1/var/lib/postgresql/15/main $1/etc/postgresql/15/main",),
        files=(("containerize-postgres", _POSTGRES_ENTRYPOINT),),
        dockerfile_tail=(
            "COPY --chmod=755 containerize-postgres /usr/local/bin/containerize-postgres\n"
            "ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:"
            "/usr/bin:/sbin:/bin PGDATA=/var/lib/postgresql/data\n"
            "EXPOSE 5432\n"
            "STOPSIGNAL SIGINT\n"
            'ENTRYPOINT ["/usr/local/bin/containerize-postgres"]\n'
        ),
        description="PostgreSQL 15 from Debian bookworm's packages, for tests",
    ),
    "redis": baseimage.Recipe(
        repository=SERVICE_IMAGES["redis"].rpartition(":")[0],
        tag=SERVICE_IMAGES["redis"].rpartition(":")[2],
        suite="bookworm",
        packages=("redis-server",),
        dockerfile_tail=(
            "WORKDIR /var/lib/redis\n"
            "USER redis\n"
            "EXPOSE 6379\n"
            'CMD ["redis-server", "--protected-mode", "no", "--save", ""]\n'
        ),
        description="Redis 7 from Debian bookworm's packages, for tests",
    ),
}


def recipe(name: str, *, platforms: tuple[Platform, ...] = ()) -> baseimage.Recipe:
    """The recipe of service image *name*, for *platforms* (default: amd64 and arm64)."""
    if name not in RECIPES:
        raise ConfigError(
            f"no service image {name!r}: containerize builds {', '.join(sorted(RECIPES))}",
            hint="name one of them, or give the service an image you can pull",
        )
    return replace(RECIPES[name], platforms=platforms) if platforms else RECIPES[name]


def reference(name: str) -> str:
    """``127.0.0.1:5000/containerize/postgres:15-bookworm``."""
    return RECIPES[name].ref
