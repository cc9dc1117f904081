"""The serial link, ``serial:DEVICE:BAUD``: a raw non-blocking tty, reopened if lost."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import termios
from collections.abc import Callable

from telemetry.mavlink.endpoints import SerialEndpoint
from telemetry.mavlink.transports._base import (
    MAX_WRITE_BUFFER_BYTES,
    Link,
    OnData,
    OnStreamEnd,
)
from telemetry.retry_policy import jittered_waits

logger = logging.getLogger(__name__)

_READ_CHUNK_BYTES = 65536


class _SerialLink(Link):
    """``serial:DEVICE:BAUD``: a raw, non-blocking tty read through ``add_reader``."""

    def __init__(
        self,
        endpoint: SerialEndpoint,
        on_data: OnData,
        clock: Callable[[], float],
        on_stream_end: OnStreamEnd | None,
        backoff_s: tuple[float, float],
    ) -> None:
        super().__init__(endpoint, on_data, clock)
        self._serial = endpoint
        self._on_stream_end = on_stream_end
        self._backoff_s = backoff_s
        self._fd: int | None = None
        self._out = bytearray()
        self._reopen_task: asyncio.Task[None] | None = None
        self._loop = asyncio.get_running_loop()

    @property
    def local_address(self) -> tuple[str, int] | None:
        return None

    @property
    def peers(self) -> int:
        return 0 if self._fd is None else 1

    def _open_device(self) -> None:
        # O_NONBLOCK also keeps open() itself from waiting for modem carrier.
        fd = os.open(self._serial.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            _set_raw(fd, self._serial.baud)
        except (OSError, termios.error) as exc:
            os.close(fd)
            raise OSError(
                errno.ENOTTY, "not a serial device (termios refused it)"
            ) from exc
        self._fd = fd
        self._loop.add_reader(fd, self._read_ready)
        logger.info("%s: open", self.link_id)

    def _read_ready(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            data = os.read(fd, _READ_CHUNK_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # EIO: unplugged, or the pty's other side closed
            self._device_lost(exc)
            return
        if not data:
            self._device_lost(None)
            return
        self._deliver(self.link_id, data, self._clock())

    def _write_ready(self) -> None:
        fd = self._fd
        if fd is None:
            return
        try:
            written = os.write(fd, self._out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._device_lost(exc)
            return
        del self._out[:written]
        if not self._out:
            self._loop.remove_writer(fd)

    def send(self, data: bytes) -> None:
        fd = self._fd
        if fd is None:
            self._send_failed("device is not open")
            return
        if len(self._out) + len(data) > MAX_WRITE_BUFFER_BYTES:
            self._send_failed("device is not draining")
            return
        self.counters.datagrams_out += 1
        self.counters.bytes_out += len(data)
        if self._out:
            self._out += data
            return
        try:
            written = os.write(fd, data)
        except (BlockingIOError, InterruptedError):
            written = 0
        except OSError as exc:
            self._device_lost(exc)
            return
        if written < len(data):
            self._out += data[written:]
            self._loop.add_writer(fd, self._write_ready)

    def _release_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        self._loop.remove_reader(fd)
        self._loop.remove_writer(fd)
        self._out.clear()
        os.close(fd)

    def _device_lost(self, exc: OSError | None) -> None:
        self._release_fd()
        logger.warning(
            "%s: device lost (%s); reopening", self.link_id, exc or "hang-up"
        )
        if self._on_stream_end is not None:
            try:
                self._on_stream_end(self.link_id)
            except Exception:  # a handler boundary, as for on_data
                self.counters.callback_errors += 1
                logger.exception("%s: on_stream_end raised", self.link_id)
        reopening = self._reopen_task is not None and not self._reopen_task.done()
        if not self._closed and not reopening:
            self._reopen_task = asyncio.create_task(self._reopen(), name=self.link_id)

    async def _reopen(self) -> None:
        # Jittered like the tcp client's redials (telemetry.retry_policy).
        waits = jittered_waits(*self._backoff_s)
        delay_s = next(waits)
        while True:
            await asyncio.sleep(delay_s)
            try:
                self._open_device()
            except OSError as exc:
                delay_s = next(waits)
                logger.warning(
                    "%s: cannot reopen (%s); retrying in %.1f s",
                    self.link_id,
                    exc,
                    delay_s,
                )
                continue
            self.counters.reconnects += 1
            return

    async def _close(self) -> None:
        if self._reopen_task is not None:
            self._reopen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reopen_task
        self._release_fd()


def _set_raw(fd: int, baud: int) -> None:
    """Raw 8N1, no flow control, no echo or line editing, at ``baud``."""
    speed = getattr(termios, f"B{baud}")
    iflag, oflag, cflag, lflag, _, _, cc = termios.tcgetattr(fd)
    iflag &= ~(
        termios.IGNBRK
        | termios.BRKINT
        | termios.PARMRK
        | termios.ISTRIP
        | termios.INLCR
        | termios.IGNCR
        | termios.ICRNL
        | termios.IXON
        | termios.IXOFF
        | termios.IXANY
        | termios.INPCK
    )
    oflag &= ~termios.OPOST
    lflag &= ~(
        termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN
    )
    cflag &= ~(termios.CSIZE | termios.PARENB | termios.CSTOPB | termios.CRTSCTS)
    cflag |= termios.CS8 | termios.CREAD | termios.CLOCAL
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    termios.tcsetattr(
        fd, termios.TCSANOW, [iflag, oflag, cflag, lflag, speed, speed, cc]
    )
