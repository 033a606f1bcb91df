"""The key that signs the workbench's session cookies.

A key made up by each process would not do: with `claimsdb serve --workers N` a cookie signed by
one worker would be refused by the next, and every restart would sign everybody out. So the key
is, in order:

1. `CLAIMSDB_UI_SECRET` (at least 32 characters): what a site with several machines sets, the
   same on each;
2. else the contents of `CLAIMSDB_UI_SECRET_FILE` (default `claimsdb-ui-secret` in the working
   directory, next to the default SQLite file): the first worker that needs it creates the file
   with a random key, exclusively and readable by its owner only; every other worker of the
   machine, and every later start, reads the same key.

A file that cannot be created or read, or holds too short a key, is reported naming both
settings, never papered over with a per-process key.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from api.settings import Settings

MIN_LENGTH = 32
_READ_ATTEMPTS = 50  # another worker may be writing the file right now: wait up to ~1 s for it


class SecretError(RuntimeError):
    """The signing key cannot be had; the message says how to provide one."""


def _problem(path: Path, what: str) -> SecretError:
    return SecretError(
        f"the workbench cannot use its signing key file {path} ({what}); set CLAIMSDB_UI_SECRET to a "
        f"random string of at least {MIN_LENGTH} characters, or CLAIMSDB_UI_SECRET_FILE to a writable path"
    )


def _create(path: Path) -> bool:
    """Write a new random key to `path` unless it exists; True when this call wrote it."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:
        raise _problem(path, exc.strerror or type(exc).__name__) from None
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")  # one write: readers see all of it or nothing
        handle.flush()
        os.fsync(handle.fileno())
    return True


def _read(path: Path) -> str:
    for _ in range(_READ_ATTEMPTS):
        try:
            key = path.read_text(encoding="ascii").strip()
        except OSError as exc:
            raise _problem(path, exc.strerror or type(exc).__name__) from None
        except UnicodeDecodeError:
            raise _problem(path, "it is not plain text") from None
        if len(key) >= MIN_LENGTH:
            return key
        time.sleep(0.02)
    raise _problem(path, f"it holds fewer than {MIN_LENGTH} characters")


def signing_key(settings: Settings) -> str:
    if settings.ui_secret is not None:
        return settings.ui_secret.get_secret_value()
    path = settings.ui_secret_file
    if not path.exists():
        _create(path)
    return _read(path)
