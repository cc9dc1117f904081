"""The visibility rule, once: staff see everything, organisations their own."""

from __future__ import annotations

import pytest

from booking.errors import NotFound
from booking.model import Actor, OperatorId, Role, UserId
from booking.permissions import can_see, require_visible, visible_operator

OP_A = OperatorId("op-a")
PILOT_A = Actor(UserId("u-pilot-a"), Role.PILOT, OP_A)
OPERATOR_A = Actor(UserId("u-op-a"), Role.OPERATOR, OP_A)
ADMIN = Actor(UserId("u-admin"), Role.SITE_ADMIN)
SAFETY = Actor(UserId("u-safety"), Role.SAFETY_OFFICER)


@pytest.mark.parametrize(
    ("actor", "operator_id", "seen"),
    [
        (PILOT_A, "op-a", True),
        (OPERATOR_A, "op-a", True),
        (PILOT_A, "op-b", False),
        (OPERATOR_A, "op-b", False),
        (PILOT_A, None, False),
        (ADMIN, "op-b", True),
        (SAFETY, "op-b", True),
        (ADMIN, None, True),
        (SAFETY, None, True),
    ],
)
def test_staff_see_everything_and_organisations_their_own(
    actor: Actor, operator_id: str | None, seen: bool
) -> None:
    assert can_see(actor, operator_id) is seen


def test_visible_operator_is_the_organisation_for_its_members_and_none_for_staff() -> (
    None
):
    assert visible_operator(PILOT_A) == OP_A
    assert visible_operator(OPERATOR_A) == OP_A
    assert visible_operator(ADMIN) is None
    assert visible_operator(SAFETY) is None


def test_another_organisations_thing_is_refused_as_not_found() -> None:
    require_visible(PILOT_A, "op-a", "booking", 7)

    with pytest.raises(NotFound, match="booking 7 not found"):
        require_visible(PILOT_A, "op-b", "booking", 7)
