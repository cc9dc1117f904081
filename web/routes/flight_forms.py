"""A booking's pre- and post-flight forms (issue 18 item 3).

``GET /bookings/{id}/forms`` returns the newest form of each kind;
``PUT /bookings/{id}/forms/pre_flight`` and ``.../post_flight`` file one (a new
version each time), checked and audited by ``booking.flight_form_services``.
Safety officers read every booking's forms; the booking's organisation (operators,
pilots) and site admins file them. A refused form answers 422 naming its rule
(``form``, ``checklist``, ``drone_mass``, ``pad_mass``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from booking.flight_form_services import forms_of, submit_form
from booking.flight_forms import FormKind, StoredForm
from booking.model import BookingId
from web.deps import ActorDep, UowDep
from web.input_limits import DbId

router = APIRouter(tags=["flight forms"])


def _public(form: StoredForm) -> dict[str, Any]:
    return {
        "kind": form.kind.value,
        "version": form.version,
        "submitted_by": form.submitted_by,
        "submitted_at": form.submitted_at.isoformat(),
        "body": form.body,
    }


@router.get("/bookings/{booking_id}/forms")
def bookings_forms(booking_id: DbId, actor: ActorDep, uow: UowDep) -> dict[str, Any]:
    """Return the booking's newest pre- and post-flight forms (null when none)
    and the pre-flight checklist its site asks for (``checklist``)."""
    latest, checklist = forms_of(uow, BookingId(booking_id), actor)
    forms: dict[str, Any] = {
        kind.value: _public(latest[kind]) if kind in latest else None
        for kind in FormKind
    }
    return forms | {"checklist": list(checklist)}


@router.put("/bookings/{booking_id}/forms/{kind}")
def bookings_form_submit(
    booking_id: DbId,
    kind: FormKind,
    body: dict[str, Any],
    actor: ActorDep,
    uow: UowDep,
) -> dict[str, Any]:
    """File the booking's pre- or post-flight form; return it as stored."""
    stored = submit_form(
        uow, BookingId(booking_id), kind, body, actor, datetime.now(UTC)
    )
    return _public(stored)
