"""A site's own pre-flight checklist (``preflight_checklist`` on the site
feature): parsed from a list or comma-separated text, refused when malformed,
written back so it survives a round trip; absent means the default list."""

from __future__ import annotations

import pytest

from airspace.site_features import site_to_features
from airspace.site_parse import parse_site
from tests.unit.test_site_parse import problems_of, set_props, valid_features


def test_a_site_without_a_checklist_leaves_the_default_to_the_booking_domain() -> None:
    assert parse_site(valid_features()).preflight_checklist is None


@pytest.mark.parametrize(
    "value",
    [["fence_verified", "ditching_kit_aboard"], "fence_verified, ditching_kit_aboard"],
)
def test_reads_the_checklist_as_a_list_or_as_comma_separated_text(
    value: object,
) -> None:
    site = parse_site(set_props("S", preflight_checklist=value)(valid_features()))
    assert site.preflight_checklist == ("fence_verified", "ditching_kit_aboard")


def test_the_checklist_survives_a_round_trip_through_features() -> None:
    site = parse_site(
        set_props("S", preflight_checklist=["link_check", "ais_checked"])(
            valid_features()
        )
    )
    assert parse_site(site_to_features(site)).preflight_checklist == (
        "link_check",
        "ais_checked",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (["Fence Verified"], "must be ids like fence_verified"),
        (["link_check", "link_check"], "lists an item twice"),
        ([], "needs 1 to 30 items"),
        (42, "must be a list of item ids"),
    ],
)
def test_refuses_a_malformed_checklist_naming_it(value: object, expected: str) -> None:
    problems = problems_of(set_props("S", preflight_checklist=value)(valid_features()))
    assert any(expected in p for p in problems), problems
