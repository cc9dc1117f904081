"""A request validation error's ``message``: pydantic's ``type`` said in words.

FastAPI's 422 lists one entry per field with pydantic's ``type``, ``loc`` and
``msg`` (English, for machines and logs). ``validation_message`` adds what a person
reads, in the request's language: the catalogue's ``validation.<type>`` filled from
the entry's ``ctx`` (``{"gt": 0}``, ``{"min_length": 1}``), or
``validation.invalid`` for a type the catalogue does not know. The message says the
problem, not the field: ``loc`` names it, and the pages put the two together.

Our own checks raise ``PydanticCustomError`` with a type of their own (the area
checks' ``hk1980_position``, the closure's ``closure_target``) and their values in
``ctx``, so they are said the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from babel.lists import format_list

from web.i18n.catalogue import LANGUAGES, catalogue, translate

CLDR_LOCALES: Final = {"en": "en_GB", "zh-Hant-HK": "zh_Hant_HK"}
"""Babel's locale of each served language (for "a, b or c" in its words)."""

SAME_WORDS: Final[Mapping[str, str]] = {
    "int_type": "int_parsing",
    "int_from_float": "int_parsing",
    "float_type": "float_parsing",
    "bool_type": "bool_parsing",
    "string_unicode": "string_type",
    "datetime_type": "datetime_parsing",
    "datetime_from_date_parsing": "datetime_parsing",
    "datetime_object_invalid": "datetime_parsing",
    "date_type": "date_parsing",
    "date_from_datetime_parsing": "date_parsing",
    "date_from_datetime_inexact": "date_parsing",
    "literal_error": "enum",
    "dict_type": "model_type",
    "model_attributes_type": "model_type",
}
"""pydantic types said with another type's words (the reader's problem is the same)."""

COUNTED: Final[Mapping[str, str]] = {
    "string_too_short": "min_length",
    "string_too_long": "max_length",
    "too_short": "min_length",
    "too_long": "max_length",
}
"""Types whose message has a plural form, and the ``ctx`` value that counts."""

_QUOTED = re.compile(r"'([^']*)'")


def validation_message(error: Mapping[str, Any], language: str) -> str:
    """Return a validation error's ``message`` in ``language`` (a served language;
    another falls back to English). ``error`` is one of pydantic's error dicts
    (``type``, ``ctx``, ``msg``)."""
    if language not in LANGUAGES:
        language = "en"
    kind = str(error.get("type", ""))
    kind = SAME_WORDS.get(kind, kind)
    key = f"validation.{kind}"
    words = catalogue("en")
    if key not in words and f"{key}.other" not in words:
        key = "validation.invalid"
    params = _params(error, language)
    counted = COUNTED.get(kind)
    if counted is not None and isinstance(params.get(counted), int):
        params["count"] = params[counted]
    return translate(language, key, **params)


def _params(error: Mapping[str, Any], language: str) -> dict[str, Any]:
    ctx = error.get("ctx")
    params: dict[str, Any] = dict(ctx) if isinstance(ctx, Mapping) else {}
    if "expected" in params:
        # pydantic writes "'AGL' or 'AMSL'"; the values are codes, the "or" is words.
        values = _QUOTED.findall(str(params["expected"]))
        if values:
            params["expected"] = format_list(
                values, style="or", locale=CLDR_LOCALES[language]
            )
    for name, value in params.items():
        if isinstance(value, float) and value.is_integer():
            params[name] = int(value)  # a bound of 25.0 kg reads as 25 kg
    if "error" in params:
        # A ValueError's text (English, from code we do not own): the English
        # message quotes it; the Chinese one says only that the value is invalid.
        params["error"] = str(params["error"])
    return params
