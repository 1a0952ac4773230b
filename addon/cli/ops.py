"""Operational commands: database migrations, RQ worker, periodic scheduler."""

from __future__ import annotations

import logging
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from addon import migrate

logger = logging.getLogger(__name__)


@click.group(name="db")
def db_group() -> None:
    """Database migrations (Alembic)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Upgrade the database to REVISION (default: head)."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    """Downgrade the database to REVISION ('base' empties it)."""
    migrate.downgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Print the current revision and whether it is the head."""
    from addon.extensions import get_db

    engine = get_db().engine
    assert engine is not None
    current = sorted(migrate.current_revisions(engine))
    click.echo(f"current: {', '.join(current) or 'none'}; head: {', '.join(migrate.heads(str(engine.url)))}")


@click.command("worker")
@click.argument("queues", nargs=-1)
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@with_appcontext
def worker(queues: tuple[str, ...], burst: bool) -> None:
    """Run an RQ worker (with the RQ scheduler) on QUEUES (default: all Cashline queues)."""
    from rq.serializers import JSONSerializer
    from rq.worker import HerokuWorker

    from addon.extensions import get_redis
    from addon.queueing import QUEUES, BurstHerokuWorker
    from jobs.runtime import set_app

    set_app(current_app._get_current_object())  # type: ignore[attr-defined]
    # HerokuWorker turns SIGTERM into a clean shutdown of the running job (platform restarts).
    worker_class = BurstHerokuWorker if burst else HerokuWorker
    w = worker_class(list(queues or QUEUES), connection=get_redis(), serializer=JSONSerializer)
    w.work(with_scheduler=True, burst=burst, logging_level="INFO")


@click.command("cron")
@click.option("--once", is_flag=True, help="Enqueue what is due now and exit.")
@with_appcontext
def cron(once: bool) -> None:
    """Enqueue periodic jobs (sweeps, nightly scoring, dunning runs) as they fall due."""
    from addon.extensions import get_redis
    from jobs.cron import run_due

    while True:
        enqueued = run_due(get_redis(), now=time.time())
        if enqueued:
            logger.info("cron enqueued %s", ", ".join(enqueued))
        if once:
            return
        time.sleep(5)


@click.group(name="tokens")
def tokens_group() -> None:
    """OAuth token storage."""


@tokens_group.command("rotate")
@with_appcontext
def tokens_rotate() -> None:
    """Re-encrypt every stored token under the first TOKEN_ENCRYPTION_KEY (after prepending a new key)."""
    from addon.extensions import get_db
    from addon.services.connections import rotate_token_encryption

    count = rotate_token_encryption(get_db().session, current_app.config["TOKEN_ENCRYPTION_KEY"])
    get_db().session.commit()
    click.echo(f"re-encrypted the tokens of {count} connection(s)")


def register(cli: click.Group) -> None:
    cli.add_command(db_group)
    cli.add_command(tokens_group)
    cli.add_command(worker)
    cli.add_command(cron)
