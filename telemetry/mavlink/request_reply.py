"""Sans-I/O request and reply: one message resent until the target answers it.

The shape the command protocol (``COMMAND_LONG`` -> ``COMMAND_ACK``, ``commands``)
and the parameter protocol (``PARAM_SET`` -> ``PARAM_VALUE``, ``params``) share:
send the request, wait ``timeout_s`` for a reply of ``REPLY_TYPE`` from the target
system, resend on silence at most ``max_retries`` times, then give up. Like the
codec, it never touches a socket or a clock: ``start(now_s)``, ``receive(msg,
now_s)`` and ``poll(now_s)`` return the pymavlink messages to send, and ``outcome``
stays None until the reply came or the retries ran out
(``telemetry.live.vehicle_exchange`` runs it on a link). The mission protocol's
transfers (``mission_protocol``) are a conversation of many messages, not one
request, and keep their own bookkeeping.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Generic, TypeVar

T = TypeVar("T")


class RequestReply(abc.ABC, Generic[T]):
    """Sends one request to ``target`` (sysid, compid) until ``REPLY_TYPE`` answers.

    A subclass says what the request is (``_request``), what a reply means
    (``_answer``: set ``outcome``, or leave it None to keep waiting) and what
    silence means (``_no_answer``).
    """

    REPLY_TYPE: ClassVar[str]
    """The pymavlink message type of the reply (``COMMAND_ACK``...)."""

    def __init__(
        self, target: tuple[int, int], timeout_s: float, max_retries: int
    ) -> None:
        self.target_system, self.target_component = target
        self.outcome: T | None = None
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._retries = 0
        self._deadline_s = 0.0

    @property
    def deadline_s(self) -> float:
        """When ``poll`` next has something to do (resend or give up)."""
        return self._deadline_s

    def start(self, now_s: float) -> list[Any]:
        """Return the first request."""
        self._deadline_s = now_s + self._timeout_s
        return [self._request()]

    def receive(self, msg: Any, now_s: float) -> list[Any]:
        """Take one message; only the target's ``REPLY_TYPE`` reaches ``_answer``."""
        if self.outcome is not None or msg.get_type() != self.REPLY_TYPE:
            return []
        if msg.get_srcSystem() != self.target_system:
            return []
        self._answer(msg, now_s)
        return []

    def poll(self, now_s: float) -> list[Any]:
        """Return the resend a silent vehicle needs, or give up."""
        if self.outcome is not None or now_s < self._deadline_s:
            return []
        if self._retries >= self._max_retries:
            self.outcome = self._no_answer()
            return []
        self._retries += 1
        self._deadline_s = now_s + self._timeout_s
        return [self._request()]

    def _wait_until(self, deadline_s: float) -> None:
        """Move the next resend to ``deadline_s`` (the target said it is working)."""
        self._deadline_s = deadline_s

    @abc.abstractmethod
    def _request(self) -> Any:
        """Return the request as sent after ``_retries`` resends."""

    @abc.abstractmethod
    def _answer(self, msg: Any, now_s: float) -> None:
        """Take a ``REPLY_TYPE`` message from the target (it may answer another
        request: leave ``outcome`` None then)."""

    @abc.abstractmethod
    def _no_answer(self) -> T:
        """Return the outcome of a target that never answered."""
