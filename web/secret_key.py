"""The token signing key kept in the data directory when none is configured.

A fresh ``skyberth serve`` (``SKYBERTH_ENV`` unset, so ``prod``) has no
``SKYBERTH_SECRET_KEY``: rather than sign with the public development key, it
generates a random key on first start and stores it in ``data_dir/secret_key``
with mode 0600, so tokens survive restarts and no one else on the machine can read
it. Several web processes must share one key: give each the same
``SKYBERTH_SECRET_KEY`` (or the same file).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from pathlib import Path

from web.settings import MIN_SECRET_BYTES, Settings

logger = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret_key"
_GENERATED_BYTES = 48


class SecretKeyError(RuntimeError):
    """The stored key cannot be used (readable by others, too short)."""


def with_secret_key(settings: Settings) -> Settings:
    """Return ``settings`` with ``secret_key`` filled from the data directory.

    A configured key is kept as it is. Otherwise the key in
    ``settings.data_dir/secret_key`` is read, or generated and stored (mode 0600)
    when the file does not exist yet; that is logged with the file's path.
    """
    if settings.secret_key:
        return settings
    path = settings.data_dir / SECRET_KEY_FILE
    key = _read_or_create(path)
    return settings.model_copy(update={"secret_key": key})


def _read_or_create(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(_GENERATED_BYTES)
    try:
        # O_EXCL: two processes starting together must not both write a key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    logger.warning(
        "no SKYBERTH_SECRET_KEY set: generated a token signing key in %s (mode "
        "0600); set SKYBERTH_SECRET_KEY to the same value on every web process",
        path,
    )
    return key


def _read(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise SecretKeyError(
            f"{path} is readable by other users (mode {mode:o}): run "
            f"`chmod 600 {path}` or set SKYBERTH_SECRET_KEY"
        )
    key = path.read_text(encoding="ascii").strip()
    if len(key.encode()) < MIN_SECRET_BYTES:
        raise SecretKeyError(
            f"{path} holds a key shorter than {MIN_SECRET_BYTES} bytes: delete it to "
            "generate a new one, or set SKYBERTH_SECRET_KEY"
        )
    return key
