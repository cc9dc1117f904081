"""The in-process hook where committed domain events land.

``SqlUnitOfWork`` calls ``EventLog.publish`` after a successful commit, from the
request's worker thread. For now the log keeps the most recent events in memory
(``recent``) and calls each subscriber synchronously; a later issue streams them to
browsers over websockets by subscribing here. A subscriber must be quick and must not
block: one that talks to the event loop should hand over with
``loop.call_soon_threadsafe``. A failing subscriber is logged and never undoes the
commit that produced the events.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence

from booking.model import DomainEvent

logger = logging.getLogger(__name__)

Subscriber = Callable[[Sequence[DomainEvent]], None]


class EventLog:
    """The most recent ``maxlen`` domain events, plus subscribers called on publish."""

    def __init__(self, maxlen: int = 1000) -> None:
        self._lock = threading.Lock()
        self._recent: deque[DomainEvent] = deque(maxlen=maxlen)
        self._subscribers: list[Subscriber] = []

    @property
    def recent(self) -> list[DomainEvent]:
        """The kept events, oldest first."""
        with self._lock:
            return list(self._recent)

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` with every batch published from now on."""
        with self._lock:
            self._subscribers.append(subscriber)

    def publish(self, events: Sequence[DomainEvent]) -> None:
        """Record one unit of work's events, in emission order, and tell subscribers."""
        with self._lock:
            self._recent.extend(events)
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber(events)
            except Exception:
                logger.exception("event subscriber %r failed", subscriber)
