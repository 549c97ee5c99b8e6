"""One command on a remote host: its own process group, a deadline, a remote kill.

The exec request carries only a fixed bootstrap (`BOOTSTRAP`), so nothing of the step
shows in `ps` there beyond the command itself. The bootstrap reads a small script from
stdin (its line count first): `export NAME=value` lines (secrets included, never on argv)
and `setsid sh -c 'print pgid; exec "$@"' <argv…> &`, waited for beside a watcher that
kills the group once the connection is gone (the engine was killed). The first stderr
line is that process group id, which a second channel kills (TERM, then KILL) when the
deadline passes or the run is cancelled. A closed connection or a missing exit status
is `lost`: whether the command ran is unknown.
"""

from __future__ import annotations

import shlex
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from msgspec import Struct, field

from engine.backends.ssh.errors import SessionError, UnsendableError
from engine.backends.ssh.stream import Streams
from engine.backends.supervisor import CommandOutcome, CommandOutput, Ending, State, supervise

if TYPE_CHECKING:
    from paramiko import Channel, Transport

# Reads a line count, then that many lines (shell builtins only: no fork), then runs them.
BOOTSTRAP = (
    'exec /bin/sh -c \'IFS= read -r n || exit 125; s=; while [ "$n" -gt 0 ]; do '
    'IFS= read -r l || exit 125; s="$s$l\n"; n=$((n-1)); done; eval "$s"\''
)
# The new group's leader restores stderr (fd 3: setsid's own complaints go to /dev/null),
# reports its pid (= the process group id) as the first stderr line, becomes the command.
_LEADER = """exec 2>&3 3>&-; echo "runbook-pgid $$" >&2; exec "$@\""""
_NO_SETSID = (
    "command -v setsid >/dev/null || "
    "{ echo 'runbook: setsid (util-linux) is missing on this host' >&2; exit 127; }"
)
# dash's builtin kill wants `-SIG -PGID` (no `--`). Under sudo the group holds sudo (which
# the login user may signal: it relays TERM to the command) and root's command: the last
# resort `sudo -n kill` needs procps' `--` and a sudoers rule that allows kill.
_KILL = (
    "p={pgid}; kill -TERM -$p 2>/dev/null || exit 0; n=0; "
    "while kill -0 -$p 2>/dev/null; do n=$((n+1)); if [ $n -ge {rounds} ]; then "
    "kill -KILL -$p 2>/dev/null; {as_root}exit 0; fi; sleep 0.1; done"
)
_KILL_AS_ROOT = "sudo -n kill -KILL -- -$p 2>/dev/null; "
# The command runs in the background (not a group leader there, so setsid makes its own
# process id the group's, without a fork); the shell waits for it and passes its exit
# status on. Beside it a watcher checks every half second that this session's sshd
# process is still there: when the engine dies (kill -9, a lost network), so does the
# connection and that process, and the watcher kills the group (TERM, then KILL).
_WATCH = (
    "p=$!; s=$PPID; ( while kill -0 $s 2>/dev/null; do sleep 0.5; done; "
    "kill -TERM -$p 2>/dev/null; sleep 2; kill -KILL -$p 2>/dev/null; {as_root}) "
    "</dev/null >/dev/null 2>&1 3>&- 4<&- & w=$!; exec 3>&- 4<&-; "
    "wait $p; r=$?; kill $w 2>/dev/null; exit $r"
)
KILL_GRACE_SECONDS = 2.0
OPEN_SECONDS = 10.0


class RemoteCommand(Struct, frozen=True):
    """What to run: argv (joined with shlex on the remote side), env, stdin, sudo."""

    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: str | None = None
    sudo: bool = False
    host: str = ""  # exported as RUNBOOK_HOST (not kept through sudo)

    def script(self) -> str:
        """The text the bootstrap evaluates; secrets are in it, so it goes over stdin."""
        env = {"RUNBOOK_HOST": self.host, **self.env} if self.host else dict(self.env)
        exports = [f"export {name}={shlex.quote(value)}" for name, value in env.items()]
        argv = list(self.argv)
        if self.sudo:
            keep = [f"--preserve-env={','.join(self.env)}"] if self.env else []
            argv = ["sudo", "-n", *keep, "--", *argv]
        leader = shlex.join(["setsid", "/bin/sh", "-c", _LEADER, "runbook", *argv])
        watch = _WATCH.format(as_root=_KILL_AS_ROOT if self.sudo else "")
        started = f"{leader} <&4 4<&- 2>/dev/null &"
        return "\n".join([*exports, _NO_SETSID, "exec 3>&2 4<&0", started, watch, ""])

    def payload(self) -> bytes:
        """Line count, script, then the command's own stdin."""
        script = self.script()
        if "\0" in script:  # the remote shell would drop it: `a\0b` would arrive as `ab`
            raise UnsendableError(
                "a value holds a NUL character, which no command can be given",
                hint="a command's arguments and environment end at NUL; pass such data on stdin",
            )
        header = f"{script.count(chr(10))}\n"
        # A byte argv could not decode (an input) goes as itself, as to a local command.
        text = header + script + (self.stdin or "")
        try:
            return text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError as exc:
            bad = exc.object[exc.start : exc.end]
            raise UnsendableError(
                f"a value holds {bad!r}, which cannot be encoded for a command",
                hint="an unpaired surrogate, e.g. from a JSON `\\ud800` escape, cannot be sent",
            ) from None


def run_remote(
    transport: Transport,
    command: RemoteCommand,
    *,
    timeout: float | None,
    on_output: Callable[[str], None],
    cancel: threading.Event,
    cap: int,
) -> CommandOutcome:
    """Run `command` over `transport`; never waits past `timeout` (plus the kill).
    UnsendableError or SessionError when it could not even start; once started, any
    breakage is `lost`."""
    payload = command.payload()  # the step checked it before connecting (ssh.apply)
    channel = _start(transport)
    try:
        output = CommandOutput(on_output, cap)
        running = _RemoteRun(transport, channel, Streams(channel, payload, output), command.sudo)
    except BaseException:
        channel.close()
        raise
    return supervise(running, output, timeout, cancel)


def _start(transport: Transport) -> Channel:
    import paramiko

    try:
        return open_exec(transport, BOOTSTRAP)
    except (paramiko.SSHException, OSError, EOFError) as exc:
        raise SessionError(f"no session channel: {exc or type(exc).__name__}") from None


def open_exec(transport: Transport, command: str) -> Channel:
    """A session channel running `command`; neither step may wait past OPEN_SECONDS
    (paramiko waits for the exec reply forever: a timer closes the channel instead)."""
    channel = transport.open_session(timeout=OPEN_SECONDS)
    guard = threading.Timer(OPEN_SECONDS, channel.close)
    guard.daemon = True
    guard.start()
    try:
        channel.exec_command(command)
    except BaseException:
        channel.close()
        raise
    finally:
        guard.cancel()
    return channel


class _RemoteRun:
    """A remote command as the supervisor drives it: its channel pumped by `Streams`,
    its process group killed over a second channel. Whatever breaks once it started
    makes it `lost` (its outcome is unknown), never an exception."""

    wait_slice = 0.1

    def __init__(self, transport: Transport, channel: Channel, streams: Streams, sudo: bool):
        self.transport = transport
        self.channel = channel
        self.streams = streams
        self.sudo = sudo
        self.broken: str | None = None  # why the supervision itself failed

    def pump(self, wait: float) -> None:
        if self.broken is None:
            try:
                self.streams.pump(wait)
            except Exception as exc:  # the command started: whatever broke, it is unknown
                self.broken = str(exc)

    def state(self) -> State:
        if self.broken is not None:
            return State.LOST
        try:
            return self._state()
        except Exception as exc:
            self.broken = str(exc)
            return State.LOST

    def _state(self) -> State:
        channel = self.channel
        if channel.exit_status_ready():
            # closed without an exit status (connection or signal): lost
            return State.LOST if channel.exit_status == -1 else State.EXITED
        if channel.closed or not channel.get_transport().is_active():
            return State.LOST
        return State.RUNNING

    def drained(self) -> bool:
        return bool(self.channel.eof_received)

    def stop(self, ending: Ending) -> str:
        if self.broken is not None:
            return self.broken
        return _stop(self.transport, self.channel, self.streams, self.sudo)

    def finish(self, ending: Ending) -> int | None:
        if self.broken is not None:
            return None
        self.streams.finish()
        return self.channel.exit_status if ending is Ending.EXITED else None

    def close(self) -> None:
        self.channel.close()


def _stop(transport: Transport, channel: Channel, streams: Streams, sudo: bool) -> str:
    """Kill the remote process group; say what happened to it."""
    if not transport.is_active():
        where = f" (process group {streams.pgid})" if streams.pgid else ""
        return f"the connection is gone: the remote command{where} may still be running"
    if streams.pgid is None:
        streams.pump(0.5)  # the pgid line may still be on its way
    if streams.pgid is None:
        return "the remote process group was never reported: nothing could be killed"
    kill_group(transport, streams.pgid, sudo)
    end = time.monotonic() + 1.0
    while not channel.exit_status_ready() and time.monotonic() < end:
        streams.pump(0.05)
    if channel.exit_status_ready():  # setsid -w returns once the group's leader is gone
        return f"remote process group {streams.pgid} killed"
    return f"remote process group {streams.pgid} could NOT be killed: it may still be running"


def kill_group(transport: Transport, pgid: int, sudo: bool) -> bool:
    """TERM the remote group, KILL it after the grace period; True when it is gone."""
    rounds = int(KILL_GRACE_SECONDS / 0.1)
    script = _KILL.format(pgid=pgid, rounds=rounds, as_root=_KILL_AS_ROOT if sudo else "")
    try:
        channel = open_exec(transport, script)
    except Exception:  # any failure means: not killed
        return False
    try:
        end = time.monotonic() + KILL_GRACE_SECONDS + 3.0
        while not channel.exit_status_ready() and time.monotonic() < end:
            time.sleep(0.02)
        return channel.exit_status_ready() and channel.exit_status == 0
    finally:
        channel.close()
