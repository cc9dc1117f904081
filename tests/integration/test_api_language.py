"""Languages through the real app on a real SQLite file: the catalogue as JSON, each
user's stored choice (default from ``Accept-Language``) and API errors in words."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.api_world import SITE, World, api_world, drone_body, slot
from web.settings import Settings

ZH = {"Accept-Language": "zh-HK,zh;q=0.9,en;q=0.5"}


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with api_world(settings) as w:
        yield w


def test_catalogue_is_served_as_json_in_both_languages(world: World) -> None:
    english = world.client.get("/i18n/en.json")
    chinese = world.client.get("/i18n/zh-Hant-HK.json")
    assert english.status_code == chinese.status_code == 200
    assert english.json()["ui.bookings"] == "Bookings"
    assert chinese.json()["ui.bookings"] == "預約"
    assert set(english.json()) == set(chinese.json())
    assert world.client.get("/i18n/fr.json").status_code == 404


def test_language_defaults_to_the_browsers_until_the_user_stores_one(
    world: World,
) -> None:
    me = world.headers("pilot")
    answer = world.client.get("/api/v1/me/language", headers={**me, **ZH})
    assert answer.json() == {"language": "zh-Hant-HK", "stored": False}
    english = {"Accept-Language": "en-GB"}
    stored = world.client.put(
        "/api/v1/me/language", json={"language": "zh-Hant-HK"}, headers=me
    )
    assert stored.json() == {"language": "zh-Hant-HK", "stored": True}
    # Stored: it wins over the browser, and other users keep their own default.
    answer = world.client.get("/api/v1/me/language", headers={**me, **english})
    assert answer.json() == {"language": "zh-Hant-HK", "stored": True}
    other = world.client.get(
        "/api/v1/me/language", headers={**world.headers("operator"), **english}
    )
    assert other.json() == {"language": "en", "stored": False}
    cleared = world.client.put(
        "/api/v1/me/language", json={"language": None}, headers={**me, **english}
    )
    assert cleared.json() == {"language": "en", "stored": False}


def test_language_choice_needs_a_signed_in_user_and_a_served_language(
    world: World,
) -> None:
    assert world.client.get("/api/v1/me/language").status_code == 401
    refused = world.client.put(
        "/api/v1/me/language",
        json={"language": "fr"},
        headers=world.headers("pilot"),
    )
    assert refused.status_code == 422


def test_refusal_keeps_its_english_rule_and_says_it_in_the_users_language(
    world: World,
) -> None:
    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1))
    world.post("operator", "/api/v1/drones", json=drone_body("d2", 2))
    body = {"site_id": SITE, "takeoff_pad_id": "P2", **slot(3, 10)}
    first = world.post("operator", "/api/v1/bookings", json={**body, "drone_id": "d1"})
    assert first.status_code == 201, first.text
    clash = world.client.post(
        "/api/v1/bookings",
        json={**body, "drone_id": "d2"},
        headers={**world.headers("operator"), **ZH},
    )
    assert clash.status_code == 409
    assert clash.json()["rule"] == "pad_booked"
    assert clash.json()["message"] == "升降坪已被預約"
    assert "P2" in clash.json()["detail"]  # the English detail stays for the record
    english = world.post(
        "operator", "/api/v1/bookings", json={**body, "drone_id": "d2"}
    )
    assert english.json()["message"] == english.json()["detail"]


def test_a_422_says_each_fields_problem_in_the_users_language(world: World) -> None:
    naive = slot(3, 10)
    naive["start"] = naive["start"][:19]  # no Z, no offset
    body = {"site_id": SITE, "takeoff_pad_id": "P2", **naive}  # and no drone_id
    answers = {
        language: world.client.post(
            "/api/v1/bookings",
            json=body,
            headers={**world.headers("operator"), "Accept-Language": language},
        )
        for language in ("zh-HK,zh;q=0.9", "en-GB")
    }
    words = {}
    for language, answer in answers.items():
        assert answer.status_code == 422
        detail = {tuple(e["loc"]): e for e in answer.json()["detail"]}
        # pydantic's own fields stay as they are, for machines.
        assert detail["body", "drone_id"]["type"] == "missing"
        assert detail["body", "drone_id"]["msg"] == "Field required"
        assert detail["body", "start"]["type"] == "timezone_aware"
        words[language[:2]] = {
            loc[-1]: e["message"] for loc, e in detail.items() if loc[-1] != "end"
        }
    assert words["zh"] == {
        "drone_id": "必須填寫",
        "start": "須註明時區（Z 或時差，例如 +08:00）",
    }
    assert words["en"] == {
        "drone_id": "is required",
        "start": "must give its time zone (Z or an offset such as +08:00)",
    }


def test_a_closures_own_checks_are_said_in_words_with_their_values(
    world: World,
) -> None:
    area = [[114.1279, 22.2596], [114.1299, 22.2596], [114.1299, 22.2616]]
    closure = {
        "site_id": SITE,
        "reason": "survey",
        "area": {"type": "Polygon", "coordinates": [[*area, area[0]]]},
        "floor_m": 60,
        "ceiling_m": 20,
        **slot(3, 10),
    }
    refused = world.client.post(
        "/api/v1/closures", json=closure, headers={**world.headers("site_admin"), **ZH}
    )
    assert refused.status_code == 422
    (entry,) = refused.json()["detail"]
    assert entry["type"] == "floor_not_below_ceiling"
    assert entry["msg"] == "floor_m must be below ceiling_m"
    assert entry["message"] == "高度下限（60 米）須低於上限（20 米）"
    both = {**closure, "floor_m": 20, "ceiling_m": 60, "pad_id": "P1"}
    refused = world.client.post(
        "/api/v1/closures", json=both, headers={**world.headers("site_admin"), **ZH}
    )
    (entry,) = refused.json()["detail"]
    assert entry["type"] == "closure_target"
    assert entry["message"] == "須只選一項關閉對象：升降坪、飛行走廊或區域"


def test_a_routes_own_refusals_keep_detail_and_add_code_and_words(
    world: World,
) -> None:
    period = "/api/v1/reports/campaign?from=2026-06-02T10:00Z&to=2026-06-02T09:00Z"
    empty = world.client.get(period, headers={**world.headers("operator"), **ZH})
    assert empty.status_code == 422
    assert empty.json() == {
        "detail": "the period is empty: 'to' <= 'from'",
        "code": "period_empty",
        "message": "期間為空：「至」須遲於「由」",
    }
    assert empty.headers["Content-Language"] == "zh-Hant-HK"
    whole = period.replace("T09", "T11")
    unnamed = world.client.get(whole, headers={**world.headers("site_admin"), **ZH})
    assert unnamed.json()["code"] == "operator_needed"
    assert unnamed.json()["message"] == "請指明營運者（?operator=）"

    world.post("operator", "/api/v1/drones", json=drone_body("d1", 1))
    body = {"site_id": SITE, "takeoff_pad_id": "P2", "drone_id": "d1", **slot(3, 10)}
    booking = world.post("operator", "/api/v1/bookings", json=body).json()
    assert booking["state"] == "pending"
    fence = f"/api/v1/bookings/{booking['id']}/fence"
    refused = world.client.post(fence, headers={**world.headers("operator"), **ZH})
    assert refused.status_code == 409
    assert refused.json()["code"] == "fence_not_sendable"
    assert refused.json()["detail"].startswith(f"booking {booking['id']} is pending")
    assert refused.json()["message"] == (
        f"預約 {booking['id']} 待批准：只有已批准或進行中的預約才有空域可發送"
    )


def test_refusals_speak_the_users_stored_language_over_the_browsers(
    world: World,
) -> None:
    me = world.headers("operator")
    world.client.put("/api/v1/me/language", json={"language": "zh-Hant-HK"}, headers=me)
    english = {"Accept-Language": "en-GB"}
    period = "/api/v1/reports/campaign?from=2026-06-02T10:00Z&to=2026-06-02T09:00Z"
    answer = world.client.get(period, headers={**me, **english})
    assert answer.json()["message"] == "期間為空：「至」須遲於「由」"
    assert answer.headers["Content-Language"] == "zh-Hant-HK"
    # A booking rule's refusal and a 422's fields follow the same choice.
    naive = world.client.post("/api/v1/bookings", json={}, headers={**me, **english})
    assert naive.headers["Content-Language"] == "zh-Hant-HK"
    assert naive.json()["detail"][0]["message"] == "必須填寫"
    # Without a valid token nobody's choice is known: the browser's language.
    anonymous = world.client.get("/api/v1/auth/me", headers=ZH)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    assert anonymous.json()["message"].startswith("尚未登入")
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    forged = world.client.get(
        "/api/v1/auth/me", headers={"Authorization": "Bearer x.y.z", **english}
    )
    assert forged.json()["code"] == "token_invalid"
    assert forged.json()["message"] == forged.json()["detail"]
