"""Submitting and reading a booking's flight forms: one unit of work each.

``submit_form`` lets the booking's organisation (operators and pilots; site admins
too) file a pre- or post-flight form: it is visible to them, validated
(``booking.flight_forms``; the take-off mass against the drone's and the take-off
pad's maximum), stored as a new version and audited (``flight_form.pre_flight`` /
``flight_form.post_flight`` on the booking) in one transaction. The checklist
is the site's (``preflight_checklist`` in the site file) or the default list.
``forms_of`` reads the newest forms and the checklist for whoever may see the
booking (safety officers: all).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from airspace.site import Site
from booking.errors import NotFound
from booking.flight_forms import (
    DEFAULT_CHECKLIST,
    FlightFormRepository,
    FormKind,
    StoredForm,
    form_body,
    mass_refusal,
    post_flight_from,
    pre_flight_from,
)
from booking.model import Actor, AuditEntry, Booking, BookingId
from booking.permissions import require_organisation, require_visible
from booking.ports import UnitOfWork


class FormsUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that also holds the flight forms."""

    @property
    def flight_forms(self) -> FlightFormRepository: ...


def checklist_of(site: Site | None) -> tuple[str, ...]:
    """Return the pre-flight checklist of ``site``: its own list from the site
    file (``preflight_checklist``), else ``DEFAULT_CHECKLIST``."""
    if site is None or site.preflight_checklist is None:
        return tuple(DEFAULT_CHECKLIST)
    return site.preflight_checklist


def _booking(uow: UnitOfWork, booking_id: BookingId) -> Booking:
    booking = uow.bookings.get(booking_id)
    if booking is None:
        raise NotFound("booking", booking_id)
    return booking


def submit_form(
    uow: FormsUnitOfWork,
    booking_id: BookingId,
    kind: FormKind,
    body: Mapping[str, Any],
    actor: Actor,
    now: datetime,
) -> StoredForm:
    """Return the form stored for the booking after checking, storing, auditing."""
    with uow:
        booking = _booking(uow, booking_id)
        require_visible(actor, booking.operator_id, "booking", booking_id)
        require_organisation(
            actor,
            booking.operator_id,
            f"file a {kind} form for booking {booking_id}",
            booking_ids=[booking_id],
        )
        if kind is FormKind.PRE_FLIGHT:
            form = pre_flight_from(body)
            site = uow.sites.get(booking.site_id)
            form.check_checklist(checklist_of(site))
            drone = uow.drones.get(booking.drone_id)
            if drone is None:
                raise NotFound("drone", booking.drone_id)
            pad_id = booking.takeoff_pad_id
            pad_max = (
                site.pad(pad_id).max_takeoff_mass_kg
                if site is not None and pad_id is not None
                else None
            )
            refusal = mass_refusal(
                form, drone.id, drone.max_takeoff_mass_kg, pad_id, pad_max
            )
            if refusal is not None:
                raise refusal
            clean = form_body(form)
        else:
            clean = form_body(post_flight_from(body))
        stored = uow.flight_forms.add(booking_id, kind, clean, actor.user_id, now)
        uow.audit.append(
            AuditEntry(
                now,
                actor.user_id,
                actor.role,
                f"flight_form.{kind}",
                "booking",
                str(booking_id),
                None,
                {k: str(v) for k, v in clean.items()},
                f"version {stored.version}",
            )
        )
        uow.commit()
        return stored


def forms_of(
    uow: FormsUnitOfWork, booking_id: BookingId, actor: Actor
) -> tuple[dict[FormKind, StoredForm], tuple[str, ...]]:
    """Return the newest form of each kind for a booking ``actor`` may see, and
    the checklist its site asks for."""
    with uow:
        booking = _booking(uow, booking_id)
        require_visible(actor, booking.operator_id, "booking", booking_id)
        checklist = checklist_of(uow.sites.get(booking.site_id))
        return uow.flight_forms.latest(booking_id), checklist
