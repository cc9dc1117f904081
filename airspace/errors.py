"""Errors raised by the airspace domain.

The tree::

    AirspaceError
    ├── SiteFileError        the file cannot be read as a site at all
    └── SiteValidationError  one or more features are wrong (each problem listed)
        carries FeatureProblem(feature_id, reason) entries
    UnknownCrsError          (an AirspaceError) the CRS string names no known CRS
    FenceTooComplex          (an AirspaceError) a booked outline cannot become a
                             fence within the autopilot's vertex budget and tolerance

A site is loaded whole or not at all: validation collects every problem first and
raises once, so a user fixes the file in one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class AirspaceError(Exception):
    """Base of every error the airspace package raises."""


class SiteFileError(AirspaceError):
    """The file is missing, unreadable, or not a site file at all."""


class UnknownCrsError(AirspaceError):
    """The configured coordinate reference system is not known to PROJ."""


class FenceTooComplex(AirspaceError):
    """The booked airspace needs more fence vertices than the autopilot stores.

    ``code`` and ``params`` say which limit, for words other than the English
    message: ``outline_empty``; ``too_many_vertices`` (``limit``, ``tolerance_m``);
    ``exclusions_too_many`` (``needed``, ``limit``).
    """

    def __init__(
        self, message: str, code: str, params: Mapping[str, str | int | float]
    ) -> None:
        super().__init__(message)
        self.code = code
        self.params = dict(params)


@dataclass(frozen=True)
class FeatureProblem:
    """One reason why one feature is invalid."""

    feature_id: str
    reason: str

    def __str__(self) -> str:
        return f"{self.feature_id}: {self.reason}"


class SiteValidationError(AirspaceError):
    """The site has invalid features; ``problems`` lists each one."""

    def __init__(self, problems: list[FeatureProblem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"{count} problem{'s' if count != 1 else ''} in site:\n{lines}"
        )
