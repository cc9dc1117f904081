"""Who may see and do what: the visibility rule and the booking permission rules.

Visibility, the one rule for every booking, drone and incident (API, pages, live
stream, reports): site staff see everything; operators and pilots see their own
organisation's things only. A thing of no organisation (an unregistered drone's
incident) is staff's. ``visible_operator`` gives the rule as a query filter,
``can_see`` as a test, ``require_visible`` as a refusal: ``NotFound``, so another
organisation's ids cannot be probed.

- Operators and pilots act only on their own organisation's drones and bookings
  (request, cancel, activate, complete; operators also register drones).
- Site admins may do all of that for any organisation, and alone approve or reject.
- Site admins and safety officers manage closures.

Each ``require_*`` returns quietly or raises ``PermissionDenied`` naming the actor,
the action and the reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from booking.errors import NotFound, PermissionDenied
from booking.model import ORGANISATION_ROLES, Actor, OperatorId, Role

CLOSURE_ROLES = frozenset({Role.SITE_ADMIN, Role.SAFETY_OFFICER})


def visible_operator(actor: Actor) -> OperatorId | None:
    """Return the only organisation ``actor`` may see, or None for all of them."""
    return actor.operator_id if actor.role in ORGANISATION_ROLES else None


def can_see(actor: Actor, operator_id: str | None) -> bool:
    """Return True when ``actor`` may see things of organisation ``operator_id``
    (None: of no organisation, seen by staff only)."""
    only = visible_operator(actor)
    return only is None or only == operator_id


def require_visible(
    actor: Actor, operator_id: str | None, kind: str, ident: object
) -> None:
    """Return quietly if ``actor`` may see the ``kind`` ``ident`` of organisation
    ``operator_id``; raise ``NotFound`` (as for a missing one) otherwise."""
    if not can_see(actor, operator_id):
        raise NotFound(kind, ident)


def require_organisation(
    actor: Actor,
    operator_id: OperatorId,
    action: str,
    *,
    roles: frozenset[Role] = ORGANISATION_ROLES,
    booking_ids: Iterable[int] = (),
) -> None:
    """Allow site admins, and ``roles`` members of organisation ``operator_id``."""
    if actor.role is Role.SITE_ADMIN:
        return
    if actor.role not in roles:
        raise PermissionDenied(
            f"{actor} may not {action}: role {actor.role} cannot",
            booking_ids=booking_ids,
        )
    if actor.operator_id != operator_id:
        raise PermissionDenied(
            f"{actor} may not {action}: it belongs to operator {operator_id}",
            booking_ids=booking_ids,
        )


def require_site_admin(
    actor: Actor, action: str, *, booking_ids: Iterable[int] = ()
) -> None:
    """Allow site admins only."""
    if actor.role is not Role.SITE_ADMIN:
        raise PermissionDenied(
            f"{actor} may not {action}: only site admins may",
            booking_ids=booking_ids,
        )


def require_closure_manager(actor: Actor, action: str) -> None:
    """Allow site admins and safety officers."""
    if actor.role not in CLOSURE_ROLES:
        raise PermissionDenied(
            f"{actor} may not {action}: only site admins and safety officers may"
        )
