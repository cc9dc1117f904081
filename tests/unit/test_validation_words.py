"""A validation error's ``message``: pydantic's ``type`` and ``ctx`` said in the
reader's language (``web.i18n.validation_words``)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from airspace.volume import AltitudeRef
from web.i18n import catalogue
from web.i18n.validation_words import COUNTED, SAME_WORDS, validation_message

ZH = "zh-Hant-HK"


class _Form(BaseModel):
    start: AwareDatetime
    reason: str = Field(min_length=1, max_length=3)
    mass_kg: float = Field(gt=0, le=25)
    count: int = Field(ge=1)
    alt_ref: AltitudeRef = AltitudeRef.AGL


def _errors(**given: Any) -> dict[str, dict[str, Any]]:
    body = {"start": "2026-12-07T09:00:00Z", "reason": "x", "mass_kg": 1, "count": 1}
    with pytest.raises(ValidationError) as caught:
        _Form.model_validate({**body, **given})
    return {str(e["loc"][0]): dict(e) for e in caught.value.errors()}


@pytest.mark.parametrize(
    ("given", "field", "english", "chinese"),
    [
        ({"start": None}, "start", "must be a date and time such as", "須為日期及時間"),
        (
            {"start": "2026-12-07T09:00:00"},
            "start",
            "must give its time zone",
            "須註明時區",
        ),
        (
            {"start": "next tuesday"},
            "start",
            "must be a date and time",
            "須為日期及時間",
        ),
        (
            {"reason": ""},
            "reason",
            "must have at least 1 character",
            "最少須有 1 個字元",
        ),
        (
            {"reason": "long"},
            "reason",
            "must have at most 3 characters",
            "最多只可有 3 個字元",
        ),
        ({"mass_kg": 0}, "mass_kg", "must be greater than 0", "須大於 0"),
        ({"mass_kg": 30}, "mass_kg", "must be 25 or less", "須小於或等於 25"),
        ({"mass_kg": "heavy"}, "mass_kg", "must be a number", "須為數字"),
        ({"count": 0}, "count", "must be 1 or more", "須大於或等於 1"),
        ({"count": 1.5}, "count", "must be a whole number", "須為整數"),
        ({"alt_ref": "MSL"}, "alt_ref", "must be AGL or AMSL", "須為 AGL或AMSL"),
    ],
)
def test_a_validation_error_is_said_with_its_values_in_both_languages(
    given: dict[str, Any], field: str, english: str, chinese: str
) -> None:
    error = _errors(**given)[field]
    assert validation_message(error, "en").startswith(english)
    assert validation_message(error, ZH).startswith(chinese)


def test_a_missing_field_and_an_unknown_type_have_words_too() -> None:
    missing = {"type": "missing", "loc": ("body", "drone_id"), "msg": "Field required"}
    assert validation_message(missing, ZH) == "必須填寫"
    odd = {"type": "no_such_type", "msg": "Something odd"}
    assert validation_message(odd, "en") == "is not valid"
    assert validation_message(odd, ZH) == "無效"
    assert validation_message(missing, "fr") == "is required"  # not served: English


def test_a_value_error_quotes_its_reason_in_english_only() -> None:
    error = {"type": "value_error", "ctx": {"error": ValueError("odd pad")}}
    assert validation_message(error, "en") == "odd pad"
    assert validation_message(error, ZH) == "數值無效"


def test_every_type_the_module_names_has_its_words() -> None:
    keys = set(catalogue("en"))
    named = {*SAME_WORDS.values(), *COUNTED}
    missing = {
        t
        for t in named
        if f"validation.{t}" not in keys and f"validation.{t}.other" not in keys
    }
    assert missing == set()
