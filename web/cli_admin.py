"""``skyberth user`` and ``skyberth db``: users and schema migrations.

Both work on ``SKYBERTH_DATABASE_URL`` (default: SQLite in the data directory) and
bring the schema up to date first, so they work on a fresh install.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy.engine import Engine, make_url

from booking.audit_heads import seal_engine
from booking.model import Role
from web.settings import Settings

user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the database schema.", no_args_is_help=True)


def shown_url(url: str) -> str:
    """Return the database URL with any password masked."""
    return make_url(url).render_as_string(hide_password=True)


def _migrated_engine(settings: Settings) -> Engine:
    from web.db import make_engine
    from web.migrate import upgrade

    engine = make_engine(settings.effective_database_url)
    upgrade(engine)
    seal_engine(engine, settings.audit_seal())  # user changes are keyed audit records
    return engine


@user_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Username (also the user id).")],
    role: Annotated[Role, typer.Option(help="What the user may do.")],
    org: Annotated[
        str | None,
        typer.Option(
            help="Operator organisation id (operators, pilots); created if new."
        ),
    ] = None,
    password: Annotated[
        str | None,
        typer.Option(help="Password; prompted for (hidden) when omitted."),
    ] = None,
) -> None:
    """Create a user and print it."""
    from web.users import UserError, add_user

    if role in (Role.OPERATOR, Role.PILOT) and not org:
        typer.echo(f"a {role} needs an organisation: --org ORG", err=True)
        raise typer.Exit(code=1)
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = Settings()
    engine = _migrated_engine(settings)
    try:
        user = add_user(engine, name, role, password, datetime.now(UTC), org)
    except UserError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    org_text = f" of {user.operator_id}" if user.operator_id else ""
    typer.echo(f"Created user {user.name} ({user.role}{org_text})")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (Alembic migrations)."""
    settings = Settings()
    engine = _migrated_engine(settings)
    engine.dispose()
    typer.echo(
        f"Database at {shown_url(settings.effective_database_url)} is up to date"
    )
