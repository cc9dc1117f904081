"""The incident workflow: transitions, refusals, roles, versions, audit entries."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from airspace.site import SiteId
from booking.errors import NotFound, PermissionDenied
from booking.model import Actor, OperatorId, Role, UserId
from telemetry.incidents.model import (
    Incident,
    IncidentId,
    IncidentKind,
    IncidentState,
    Severity,
)
from telemetry.incidents.workflow import (
    TRANSITIONS,
    Acknowledge,
    AddNote,
    AdjustSeverity,
    Assign,
    Close,
    IncidentChange,
    IncidentCommand,
    IncidentInputRefused,
    IncidentTransitionRefused,
    IncidentVersionConflict,
    Investigate,
    Reopen,
    RootCause,
    SetRootCause,
    can_read,
    decide,
)

T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=5)
OFFICER = Actor(UserId("olivia"), Role.SAFETY_OFFICER)
ADMIN = Actor(UserId("sam"), Role.SITE_ADMIN)
OPERATOR = Actor(UserId("otto"), Role.OPERATOR, OperatorId("acme"))
PILOT = Actor(UserId("pia"), Role.PILOT, OperatorId("acme"))
RIVAL = Actor(UserId("rex"), Role.OPERATOR, OperatorId("rival"))


def incident(
    state: IncidentState = IncidentState.OPEN, version: int = 1, **changes: object
) -> Incident:
    base = Incident(
        id=IncidentId(7),
        site_id=SiteId("cyberport-pier"),
        kind=IncidentKind.CORRIDOR_EXIT_LATERAL,
        severity=Severity.BREACH,
        state=state,
        opened_at=T0,
        updated_at=T0,
        closed_at=T0 if state is IncidentState.CLOSED else None,
        vehicle_key="udpin:0.0.0.0:14550/42",
        sysid=42,
        drone_id=None,
        operator_id=OperatorId("acme"),
        booking_id=None,
        corridor_id=None,
        message="left corridor C1",
        rule={},
        volume=None,
        link={},
        occurrences=1,
        last_occurrence_at=T0,
        idempotency_key="k",
        version=version,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def applied(before: Incident, change: IncidentChange) -> Incident:
    """The incident as the store would keep it after ``change``."""
    return dataclasses.replace(
        before,
        state=change.state,
        severity=change.severity,
        assignee_id=change.assignee_id,
        root_cause=change.root_cause,
        closing_summary=change.closing_summary,
        closed_at=change.closed_at,
        version=before.version + 1,
    )


class TestTransitions:
    def test_walks_open_to_closed_and_reopened_behaves_like_open(self) -> None:
        steps: list[tuple[IncidentCommand, IncidentState]] = [
            (Acknowledge(), IncidentState.ACKNOWLEDGED),
            (Investigate(), IncidentState.INVESTIGATING),
            (Close("drone drifted in a gust"), IncidentState.CLOSED),
            (Reopen("new video evidence"), IncidentState.REOPENED),
            (Acknowledge(), IncidentState.ACKNOWLEDGED),
            (Investigate(), IncidentState.INVESTIGATING),
            (Close("confirmed gust"), IncidentState.CLOSED),
        ]
        current = incident()
        for command, expected in steps:
            change = decide(current, command, OFFICER, NOW)
            assert change.state is expected
            assert change.event_kind == "state_changed"
            assert change.event_details["from"] == current.state
            assert change.event_details["to"] == expected
            current = applied(current, change)
        assert current.version == 8

    @pytest.mark.parametrize(
        ("state", "command"),
        [
            (IncidentState.OPEN, Investigate()),
            (IncidentState.OPEN, Close("summary")),
            (IncidentState.OPEN, Reopen("why")),
            (IncidentState.ACKNOWLEDGED, Acknowledge()),
            (IncidentState.ACKNOWLEDGED, Close("summary")),
            (IncidentState.INVESTIGATING, Acknowledge()),
            (IncidentState.INVESTIGATING, Reopen("why")),
            (IncidentState.CLOSED, Acknowledge()),
            (IncidentState.CLOSED, Investigate()),
            (IncidentState.CLOSED, Close("again")),
            (IncidentState.REOPENED, Investigate()),
            (IncidentState.REOPENED, Close("summary")),
        ],
    )
    def test_refuses_illegal_transition(
        self, state: IncidentState, command: IncidentCommand
    ) -> None:
        with pytest.raises(IncidentTransitionRefused) as err:
            decide(incident(state), command, OFFICER, NOW)
        assert err.value.from_state == state
        assert err.value.as_dict()["rule"] == "transition"

    def test_transition_table_matches_decide(self) -> None:
        moves: dict[IncidentState, IncidentCommand] = {
            IncidentState.ACKNOWLEDGED: Acknowledge(),
            IncidentState.INVESTIGATING: Investigate(),
            IncidentState.CLOSED: Close("summary"),
            IncidentState.REOPENED: Reopen("reason"),
        }
        for state in IncidentState:
            for target, command in moves.items():
                allowed = target in TRANSITIONS[state]
                try:
                    decide(incident(state), command, OFFICER, NOW)
                    accepted = True
                except IncidentTransitionRefused:
                    accepted = False
                assert accepted == allowed, (state, target)

    def test_closing_sets_closed_at_and_reopening_clears_it(self) -> None:
        investigating = incident(IncidentState.INVESTIGATING)
        closed = decide(investigating, Close("done"), OFFICER, NOW)
        assert closed.closed_at == NOW
        reopened = decide(applied(investigating, closed), Reopen("more"), ADMIN, NOW)
        assert reopened.closed_at is None


class TestClosing:
    @pytest.mark.parametrize("summary", ["", "   \n\t"])
    def test_refuses_to_close_without_a_summary(self, summary: str) -> None:
        with pytest.raises(IncidentInputRefused) as err:
            decide(incident(IncidentState.INVESTIGATING), Close(summary), OFFICER, NOW)
        assert err.value.field == "summary"
        assert "closing summary" in err.value.message

    def test_refuses_a_summary_over_the_limit(self) -> None:
        with pytest.raises(IncidentInputRefused):
            decide(
                incident(IncidentState.INVESTIGATING), Close("x" * 10_001), OFFICER, NOW
            )

    def test_close_keeps_summary_and_defaults_root_cause_to_undetermined(
        self,
    ) -> None:
        change = decide(
            incident(IncidentState.INVESTIGATING), Close("  gust  "), OFFICER, NOW
        )
        assert change.closing_summary == "gust"
        assert change.root_cause == RootCause.UNDETERMINED

    def test_close_keeps_the_root_cause_found_during_investigation(self) -> None:
        found = incident(IncidentState.INVESTIGATING, root_cause="weather")
        assert decide(found, Close("gust"), OFFICER, NOW).root_cause == "weather"
        overridden = decide(found, Close("pilot", RootCause.PILOT_ERROR), OFFICER, NOW)
        assert overridden.root_cause == "pilot_error"

    def test_reopen_needs_a_reason(self) -> None:
        with pytest.raises(IncidentInputRefused) as err:
            decide(incident(IncidentState.CLOSED), Reopen(" "), OFFICER, NOW)
        assert err.value.field == "reason"


class TestRoles:
    @pytest.mark.parametrize("actor", [OPERATOR, PILOT])
    def test_operators_and_pilots_may_not_change_their_own_incident(
        self, actor: Actor
    ) -> None:
        assert can_read(actor, incident())
        with pytest.raises(PermissionDenied):
            decide(incident(), Acknowledge(), actor, NOW)
        with pytest.raises(PermissionDenied):
            decide(incident(), AddNote("mine"), actor, NOW)

    def test_another_organisations_incident_is_not_found(self) -> None:
        assert not can_read(RIVAL, incident())
        with pytest.raises(NotFound):
            decide(incident(), Acknowledge(), RIVAL, NOW)

    def test_incident_without_operator_is_staff_only(self) -> None:
        unknown = incident(operator_id=None)
        assert not can_read(OPERATOR, unknown)
        assert can_read(OFFICER, unknown)
        assert can_read(ADMIN, unknown)

    @pytest.mark.parametrize("actor", [OFFICER, ADMIN])
    def test_staff_may_change_any_incident(self, actor: Actor) -> None:
        change = decide(incident(operator_id=None), Acknowledge(), actor, NOW)
        assert change.audit.actor_id == actor.user_id
        assert change.audit.actor_role == actor.role


class TestOtherChanges:
    def test_assign_and_unassign_record_previous_and_new(self) -> None:
        olivia = Assign("olivia", "yours", Role.SAFETY_OFFICER)
        change = decide(incident(), olivia, ADMIN, NOW)
        assert change.assignee_id == "olivia"
        assert change.state is IncidentState.OPEN
        assert change.event_kind == "assigned"
        assert change.event_details == {
            "previous": None,
            "assignee_id": "olivia",
            "note": "yours",
        }
        assert change.audit.action == "incident.assigned"
        back = decide(incident(assignee_id="olivia"), Assign(None), ADMIN, NOW)
        assert back.assignee_id is None

    def test_notes_are_allowed_even_when_closed_but_need_text(self) -> None:
        change = decide(incident(IncidentState.CLOSED), AddNote(" late "), OFFICER, NOW)
        assert change.event_kind == "note"
        assert change.event_details == {"note": "late"}
        assert change.state is IncidentState.CLOSED
        assert change.audit.note == "late"
        with pytest.raises(IncidentInputRefused):
            decide(incident(), AddNote(""), OFFICER, NOW)

    def test_severity_adjust_needs_reason_and_an_open_incident(self) -> None:
        change = decide(
            incident(), AdjustSeverity(Severity.WARNING, "inside buffer"), OFFICER, NOW
        )
        assert change.severity is Severity.WARNING
        assert change.event_details["from"] == "breach"
        assert change.event_details["to"] == "warning"
        with pytest.raises(IncidentInputRefused):
            decide(incident(), AdjustSeverity(Severity.INFO, ""), OFFICER, NOW)
        with pytest.raises(IncidentTransitionRefused):
            decide(
                incident(IncidentState.CLOSED),
                AdjustSeverity(Severity.INFO, "x"),
                OFFICER,
                NOW,
            )

    def test_root_cause_is_one_of_the_categories(self) -> None:
        change = decide(
            incident(IncidentState.INVESTIGATING),
            SetRootCause(RootCause.NAVIGATION),
            OFFICER,
            NOW,
        )
        assert change.root_cause == "navigation"
        with pytest.raises(ValueError, match="not a valid RootCause"):
            decide(incident(), SetRootCause("bad luck"), OFFICER, NOW)  # type: ignore[arg-type]

    def test_closed_incident_cannot_be_assigned(self) -> None:
        with pytest.raises(IncidentTransitionRefused):
            decide(
                incident(IncidentState.CLOSED),
                Assign("olivia", assignee_role=Role.SAFETY_OFFICER),
                OFFICER,
                NOW,
            )

    @pytest.mark.parametrize(
        ("role", "reason"),
        [(None, "no such user"), (Role.PILOT, "a pilot is not staff")],
    )
    def test_only_staff_can_be_assigned(self, role: Role | None, reason: str) -> None:
        with pytest.raises(IncidentInputRefused, match=reason) as err:
            decide(incident(), Assign("pia", assignee_role=role), OFFICER, NOW)
        assert err.value.field == "assignee_id"


class TestVersionsAndAudit:
    def test_refuses_a_stale_version(self) -> None:
        with pytest.raises(IncidentVersionConflict) as err:
            decide(incident(version=3), Acknowledge(), OFFICER, NOW, expected_version=2)
        assert err.value.as_dict()["version"] == 3
        assert err.value.as_dict()["rule"] == "concurrent_write"

    def test_accepts_the_current_version(self) -> None:
        change = decide(
            incident(version=3), Acknowledge(), OFFICER, NOW, expected_version=3
        )
        assert change.audit.after is not None
        assert change.audit.after["version"] == "4"

    def test_audit_entry_names_who_what_and_before_after(self) -> None:
        change = decide(incident(), Acknowledge("seen on the map"), OFFICER, NOW)
        entry = change.audit
        assert (entry.action, entry.subject_kind, entry.subject_id) == (
            "incident.acknowledged",
            "incident",
            "7",
        )
        assert entry.at == NOW
        assert entry.before is not None
        assert entry.after is not None
        assert (entry.before["state"], entry.after["state"]) == (
            "open",
            "acknowledged",
        )
        assert entry.note == "seen on the map"

    def test_refuses_a_naive_time(self) -> None:
        with pytest.raises(ValueError, match="no timezone"):
            decide(incident(), Acknowledge(), OFFICER, datetime(2026, 11, 25))  # noqa: DTZ001
