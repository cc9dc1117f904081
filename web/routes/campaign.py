"""``GET /reports/campaign``: an operator's campaign report (issue 18 item 4).

``?operator=&from=&to=[&drone=][&format=json|csv|html]``: flights, hours,
distance, conditions encountered, incidents per flight hour, F3548 conformance
and emergency procedures (``web.campaign_reports``); ``html`` is one
self-contained printable page with its charts. Operators and pilots get their own
organisation's report (another answers 404); staff name the operator.

The HTML speaks the reader's language (``?lang=``, the stored language, then
``Accept-Language``) with times in the sites' zone; the CSV's header row holds
column codes unless a language was asked for (``web.i18n.export_headers``).
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import AwareDatetime

from telemetry.reports.campaign import campaign_csv, campaign_html
from web.campaign_reports import campaign_report
from web.deps import ActorDep, SessionDep
from web.errors import ApiError
from web.i18n.export_headers import HeaderQuery, export_csv
from web.i18n.report_words import report_words, sites_zone
from web.i18n.request_language import ChosenLanguageDep
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
    chosen: ChosenLanguageDep,
    operator: str | None = None,
    drone: str | None = None,
    fmt: Annotated[Literal["json", "csv", "html"], Query(alias="format")] = "json",
    header: HeaderQuery = None,
) -> Any:
    """Return the operator's campaign report over ``[from, to)``."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if end <= start:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "period_empty",
            "the period is empty: 'to' <= 'from'",
        )
    operator_id = _operator_in_scope(session, actor, operator)
    if operator_id is None:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "operator_needed",
            "name the operator (?operator=)",
        )
    settings = cast(Settings, request.app.state.settings)
    sources = export_sources(request)
    summary, flights = campaign_report(
        session,
        sources,
        operator_id,
        start,
        end,
        settings.landed_end_s,
        drone,
    )
    name = f"campaign-{operator_id}"
    if fmt == "csv":
        return Response(
            export_csv(campaign_csv(summary), chosen, header),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if fmt == "html":
        words = report_words(chosen.language, sites_zone(sources.sites))
        return Response(
            campaign_html(summary, flights, words),
            media_type="text/html",
            headers={"Content-Language": chosen.language},
        )
    return summary
