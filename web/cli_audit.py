"""``skyberth audit verify``: walk the audit trail's hash chain and exported heads.

Keyed records are checked with the audit key (``Settings.audit_seal``), and every
head exported to ``data_dir/audit-heads.log`` must still be in the chain with the
same hash: deleting the newest records or re-hashing the table is a break.

Exit codes: 0 the chain is whole, 1 a link is broken (the first one is named with
the hash expected and the one found) or the heads file is malformed, 2 the
database could not be read.
"""

from __future__ import annotations

import typer
from sqlalchemy.exc import SQLAlchemyError

from web.cli_admin import shown_url
from web.secret_key import with_secret_key
from web.settings import Settings

audit_app = typer.Typer(
    help="Check the tamper-evident audit trail.", no_args_is_help=True
)


@audit_app.callback()
def _group() -> None:
    """Check the tamper-evident audit trail."""


@audit_app.command("verify")
def verify() -> None:
    """Walk the audit chain and the exported heads; report the first broken link
    (exit 1) or the head."""
    from booking.audit_heads import AuditHeadsError, read_heads
    from booking.audit_trail import verify_trail
    from web.db import make_engine
    from web.migrate import upgrade

    settings = with_secret_key(Settings())
    seal = settings.audit_seal()
    heads_path = seal.heads_path or settings.data_dir / "audit-heads.log"
    try:
        heads = read_heads(heads_path)
    except (AuditHeadsError, OSError) as exc:
        typer.echo(f"audit trail BROKEN: exported heads unreadable: {exc}", err=True)
        raise typer.Exit(code=1) from None
    url = settings.effective_database_url
    engine = make_engine(url)
    try:
        upgrade(engine)
        report = verify_trail(engine, seal.key, heads)
    except SQLAlchemyError as exc:
        typer.echo(f"cannot read the audit trail at {shown_url(url)}: {exc}", err=True)
        raise typer.Exit(code=2) from None
    finally:
        engine.dispose()
    first = report.first_break
    if first is not None:
        typer.echo(f"audit trail BROKEN: {first}", err=True)
        typer.echo(
            f"{report.break_count} broken link(s) in {report.records} record(s); "
            f"first at record {first.record_id}",
            err=True,
        )
        raise typer.Exit(code=1)
    typer.echo(
        f"audit trail intact: {report.records} record(s); head record "
        f"{report.head_id if report.head_id is not None else '-'} hash "
        f"{report.head_hash}; {len(heads)} exported head(s) checked"
    )
