"""Two languages, one catalogue: English and Traditional Chinese (Hong Kong).

The messages live in gettext ``.po`` files under ``web/locale/<locale>/LC_MESSAGES/``,
read directly with Babel (nothing compiled is committed). Every message id is a
stable key (``nav.bookings``, ``rule.pad_booked``); the English catalogue holds the
English text, so a key missing from either language is visible as a missing entry.
The pages receive the same catalogue as JSON (``GET /i18n/{lang}.json``,
``web.i18n.routes``); the server uses it for the human ``message`` of API errors.

Plurals follow the CLDR categories the pages get from ``Intl.PluralRules``: a
message with a count has one key per category (``.one``, ``.other``); Chinese needs
only ``.other``.
"""

from web.i18n.catalogue import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Catalogue,
    catalogue,
    negotiate,
    translate,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "Catalogue",
    "catalogue",
    "negotiate",
    "translate",
]
