"""Why an SSH step could not even try: each error names its phase and a way out."""

from __future__ import annotations

from engine.core.errors import EngineError, ExitCode


class RemoteError(EngineError):
    """Nothing was executed on the remote host. `phase` says where it stopped."""

    exit_code = ExitCode.FAILED
    phase = "ssh"

    def summary(self) -> str:
        """One line for a step result: phase, message and hint."""
        hint = f" (hint: {self.hint})" if self.hint else ""
        where = f"{self.location}: " if self.location else ""
        return f"{self.phase}: {where}{self.message}{hint}"


class InventoryError(RemoteError):
    """The inventory file is missing, malformed, or does not know a target."""

    exit_code = ExitCode.USAGE
    phase = "inventory"


class ConnectError(RemoteError):
    """TCP (or the jump host's forwarded channel) did not connect in time, or was refused."""

    phase = "connect"


class BannerError(RemoteError):
    """TCP connected, but no SSH banner / key exchange within the banner deadline."""

    phase = "banner"


class HostKeyError(RemoteError):
    """The server's host key is unknown, changed or revoked: refused before authentication."""

    phase = "host key"


class AuthError(RemoteError):
    """The server refused our keys, or authentication ran past its deadline."""

    phase = "auth"


class UnsendableError(RemoteError):
    """A rendered value cannot be encoded for the remote command: nothing was sent."""

    phase = "command"


class SessionError(RemoteError):
    """Connected and authenticated, but no session channel could be opened."""

    phase = "session"
