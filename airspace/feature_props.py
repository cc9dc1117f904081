"""Typed readers over one feature's properties, for ``airspace.site_parse``.

File formats disagree on missing values (None, NaN, "") and on types (KML gives
text, GeoPackage a union of the columns of every kind, data frames numpy scalars),
so every property of a site feature is read through ``FeatureProps``: it turns
those into plain Python values or records one ``FeatureProblem`` per failure.

Kept apart from ``site_parse`` because it knows nothing of sites, pads or
corridors, only of property values; ``site_parse`` reads what each kind needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from airspace.errors import FeatureProblem
from airspace.volume import AltitudeRef

QUANTITY_DECIMALS = 6
"""Decimals kept for numeric properties (micrometres, milligrams)."""
_TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "no", "0"})


def format_number(value: float) -> str:
    """Return ``value`` as ``%g`` text (6 significant digits) for problem messages."""
    return f"{value:g}"


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


class FeatureProps:
    """Typed readers over one feature's properties; each failure is recorded once.

    A reader returns None when the value is absent (and optional) or wrong; ``ok``
    tells the two apart, so nothing is built from a half-read feature.
    """

    def __init__(
        self, label: str, properties: Mapping[str, Any], problems: list[FeatureProblem]
    ) -> None:
        self.label = label
        self._properties = properties
        self._problems = problems
        self.ok = True

    def fail(self, reason: str) -> None:
        self._problems.append(FeatureProblem(self.label, reason))
        self.ok = False

    def raw(self, key: str) -> object:
        value = self._properties.get(key)
        if isinstance(value, np.generic):
            value = value.item()  # numpy scalars from data frames: plain Python
        return None if _is_missing(value) else value

    def has(self, key: str) -> bool:
        return self.raw(key) is not None

    def _absent(self, key: str, required: bool) -> None:
        if required:
            self.fail(f"missing required property {key}")

    def text(self, key: str, *, required: bool = True) -> str | None:
        value = self.raw(key)
        if value is None:
            self._absent(key, required)
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)  # numeric ids, as GDAL types an all-digit column
        if not isinstance(value, str):
            self.fail(f"{key} must be text, got {value!r}")
            return None
        return value.strip()

    def number(
        self, key: str, *, required: bool = True, above: float | None = None
    ) -> float | None:
        """Read a finite number; ``above`` is an exclusive lower bound."""
        value = self.raw(key)
        if value is None:
            self._absent(key, required)
            return None
        parsed: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            parsed = float(value)
        elif isinstance(value, str):
            try:
                parsed = float(value)
            except ValueError:
                parsed = None
        if (
            parsed is None
            or not math.isfinite(parsed)
            or (above is not None and not parsed > above)
        ):
            bound = "" if above is None else f" > {format_number(above)}"
            self.fail(f"{key} must be a number{bound}, got {value!r}")
            return None
        return round(parsed, QUANTITY_DECIMALS)

    def at_least_zero(self, key: str) -> float | None:
        value = self.number(key)
        if value is not None and value < 0:
            self.fail(f"{key} must be a number >= 0, got {value!r}")
            return None
        return value

    def integer(self, key: str, *, minimum: int) -> int | None:
        value = self.raw(key)
        if value is None:
            self._absent(key, True)
            return None
        parsed: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            parsed = value
        elif isinstance(value, float | str):
            try:
                as_float = float(value)
            except ValueError:
                as_float = math.nan
            # GeoPackage and pandas give 2.0 for an integer column with gaps.
            if math.isfinite(as_float) and as_float.is_integer():
                parsed = int(as_float)
        if parsed is None or parsed < minimum:
            self.fail(f"{key} must be an integer >= {minimum}, got {value!r}")
            return None
        return parsed

    def boolean(self, key: str, *, required: bool = True) -> bool | None:
        value = self.raw(key)
        if value is None:
            self._absent(key, required)
            return None
        if isinstance(value, bool):
            return value
        # GeoPackage and KML return booleans as 0/1 numbers or "true"/"false" text.
        if isinstance(value, int | float) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE_WORDS:
            return True
        if isinstance(value, str) and value.strip().lower() in _FALSE_WORDS:
            return False
        self.fail(f"{key} must be true or false, got {value!r}")
        return None

    def alt_ref(self) -> AltitudeRef | None:
        value = self.raw("alt_ref")
        if value is None:
            return AltitudeRef.AGL
        if isinstance(value, str) and value.strip().upper() in AltitudeRef.__members__:
            return AltitudeRef(value.strip().upper())
        self.fail(f"alt_ref must be AGL or AMSL, got {value!r}")
        return None

    def segment_indexes(self, key: str) -> tuple[int, ...]:
        value = self.raw(key)
        if value is None:
            return ()
        items: list[object]
        if isinstance(value, str):
            items = [item.strip() for item in value.strip("[]").split(",")]
        elif isinstance(value, list | tuple | np.ndarray):
            items = list(value)
        else:
            items = [value]
        indexes: set[int] = set()
        for item in items:
            if isinstance(item, np.generic):
                item = item.item()
            if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
                indexes.add(item)
            elif isinstance(item, str) and item.isdigit():
                indexes.add(int(item))
            else:
                self.fail(
                    f"{key} must be comma-separated segment indexes like '0,2', "
                    f"got {value!r}"
                )
                return ()
        return tuple(sorted(indexes))
