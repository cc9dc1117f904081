"""``skyberth user`` and ``skyberth db``: users and schema migrations.

Both work on ``SKYBERTH_DATABASE_URL`` (default: SQLite in the data directory) and
bring the schema up to date first, so they work on a fresh install.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy.engine import Engine, make_url

from booking.audit_heads import seal_engine
from booking.model import Role, User
from web.secret_key import with_secret_key
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
    # User changes are keyed audit records, under the key the server uses.
    seal_engine(engine, with_secret_key(settings).audit_seal())
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


def _account_change(change: Callable[[Engine], User], done: str) -> None:
    """Run one change from ``web.accounts`` and print ``done`` for the user."""
    from web.users import UserError

    engine = _migrated_engine(Settings())
    try:
        user = change(engine)
    except UserError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from None
    finally:
        engine.dispose()
    typer.echo(done.format(user=user))


@user_app.command("list")
def list_cmd() -> None:
    """Print every user: name, role, organisation, and whether disabled."""
    from web.accounts import list_users

    engine = _migrated_engine(Settings())
    try:
        users = list_users(engine)
    finally:
        engine.dispose()
    for user in users:
        status = "disabled" if user.disabled else "active"
        typer.echo(f"{user.name}\t{user.role}\t{user.operator_id or '-'}\t{status}")


NameArgument = Annotated[str, typer.Argument(help="Username.")]


@user_app.command("disable")
def disable(name: NameArgument) -> None:
    """Disable a user: no login, and their tokens stop working at once."""
    from web.accounts import set_disabled

    now = datetime.now(UTC)
    _account_change(
        lambda engine: set_disabled(engine, name, True, now),
        "Disabled user {user.name}; their tokens are revoked",
    )


@user_app.command("enable")
def enable(name: NameArgument) -> None:
    """Enable a disabled user again (they log in anew)."""
    from web.accounts import set_disabled

    now = datetime.now(UTC)
    _account_change(
        lambda engine: set_disabled(engine, name, False, now),
        "Enabled user {user.name}",
    )


@user_app.command("passwd")
def passwd(
    name: NameArgument,
    password: Annotated[
        str | None,
        typer.Option(help="New password; prompted for (hidden) when omitted."),
    ] = None,
) -> None:
    """Set a user's password; their tokens stop working at once."""
    from web.accounts import set_password

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    now = datetime.now(UTC)
    new_password = password
    _account_change(
        lambda engine: set_password(engine, name, new_password, now),
        "Changed the password of {user.name}; their tokens are revoked",
    )


@user_app.command("role")
def role_cmd(
    name: NameArgument,
    role: Annotated[Role, typer.Argument(help="The new role.")],
    org: Annotated[
        str | None,
        typer.Option(help="Organisation (operators, pilots); created if new."),
    ] = None,
) -> None:
    """Give a user another role."""
    from web.accounts import set_role

    now = datetime.now(UTC)
    _account_change(
        lambda engine: set_role(engine, name, role, now, org),
        "User {user.name} is now {user.role}",
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema up to date (Alembic migrations) and say what it
    did: created the schema, upgraded it, or found it current."""
    from web.db import make_engine
    from web.migrate import current_revision

    settings = Settings()
    probe = make_engine(settings.effective_database_url)
    try:
        before = current_revision(probe)
    finally:
        probe.dispose()
    engine = _migrated_engine(settings)
    try:
        after = current_revision(engine)
    finally:
        engine.dispose()
    where = shown_url(settings.effective_database_url)
    if before is None:
        typer.echo(f"Database at {where}: created the schema (revision {after})")
    elif before != after:
        typer.echo(f"Database at {where}: upgraded from revision {before} to {after}")
    else:
        typer.echo(f"Database at {where} is up to date (revision {after})")
