"""Who may post alerts: a bearer token or a basic-auth pair, each read from a file.

Alertmanager sends either, from its receiver's `http_config` (`authorization:
{credentials_file: …}` for a bearer token, `basic_auth: {username, password_file}`).
The secret is compared in constant time, and never logged, echoed or put in a metric.
The files must be readable by their owner alone, as ssh wants of a private key.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import stat
from pathlib import Path

from msgspec import Struct

from engine.core.errors import UsageError
from engine.core.regular_file import read_regular_text


class Credentials(Struct, frozen=True):
    """What a request must carry; empty means no authentication (loopback only)."""

    bearer: bytes = b""
    basic: bytes = b""  # `user:password`

    @property
    def required(self) -> bool:
        return bool(self.bearer or self.basic)

    def allows(self, authorization: str | None) -> bool:
        """Whether an `Authorization` header value carries valid credentials."""
        if not self.required:
            return True
        scheme, _, value = (authorization or "").partition(" ")
        given = value.strip().encode("utf-8", "surrogateescape")
        if scheme.lower() == "bearer" and self.bearer:
            return hmac.compare_digest(given, self.bearer)
        if scheme.lower() == "basic" and self.basic:
            return hmac.compare_digest(_decoded_basic(given), self.basic)
        return False


def load_credentials(token_file: str | None, basic_auth_file: str | None) -> Credentials:
    """Read the token (one line) and the `user:password` pair (one line) from their files."""
    bearer = read_secret_line(token_file, "--token-file") if token_file else b""
    basic = read_secret_line(basic_auth_file, "--basic-auth-file") if basic_auth_file else b""
    if basic and b":" not in basic:
        raise UsageError(
            f"{basic_auth_file}: expected one line `user:password`",
            hint="write the user, a colon and the password on one line",
        )
    return Credentials(bearer=bearer, basic=basic)


def read_secret_line(file: str, option: str) -> bytes:
    path = Path(file)
    try:
        mode = path.stat().st_mode
        text = read_regular_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise UsageError(f"{option} {file}: cannot read it: {reason}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(
            f"{option} {file}: readable by others (mode {stat.S_IMODE(mode):o})",
            hint=f"chmod 600 {file}",
        )
    secret = text.strip()
    if not secret or "\n" in secret:
        raise UsageError(f"{option} {file}: expected the secret alone on one line")
    return secret.encode()


def _decoded_basic(value: bytes) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b"\0"  # never equal to a `user:password` pair
