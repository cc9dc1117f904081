"""``GET /reports/campaign``: an operator's campaign report (issue 18 item 4).

``?operator=&from=&to=[&drone=][&format=json|csv|html]``: flights, hours,
distance, conditions encountered, incidents per flight hour, F3548 conformance
and emergency procedures (``web.campaign_reports``); ``html`` is one
self-contained printable page with its charts. Operators and pilots get their own
organisation's report (another answers 404); staff name the operator.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import AwareDatetime

from telemetry.reports.campaign import campaign_csv, campaign_html
from web.campaign_reports import campaign_report
from web.deps import ActorDep, SessionDep
from web.routes.incident_replays import export_sources
from web.routes.reports import _operator_in_scope
from web.settings import Settings

router = APIRouter(prefix="/reports", tags=["reports"])


@router.get(
    "/campaign",
    responses={
        200: {"content": {"application/json": {}, "text/csv": {}, "text/html": {}}}
    },
)
def campaign(
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    start: Annotated[AwareDatetime, Query(alias="from")],
    end: Annotated[AwareDatetime, Query(alias="to")],
    operator: str | None = None,
    drone: str | None = None,
    fmt: Annotated[Literal["json", "csv", "html"], Query(alias="format")] = "json",
) -> Any:
    """Return the operator's campaign report over ``[from, to)``."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "the period is empty: 'to' <= 'from'"
        )
    operator_id = _operator_in_scope(session, actor, operator)
    if operator_id is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "name the operator (?operator=)"
        )
    settings = cast(Settings, request.app.state.settings)
    summary, flights = campaign_report(
        session,
        export_sources(request),
        operator_id,
        start,
        end,
        settings.landed_end_s,
        drone,
    )
    name = f"campaign-{operator_id}"
    if fmt == "csv":
        return Response(
            campaign_csv(summary),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "html":
        return Response(campaign_html(summary, flights), media_type="text/html")
    return summary
