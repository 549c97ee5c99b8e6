"""The byte streams of one remote command: stdin out, stdout and stderr in, never blocking.

Output is decoded incrementally (a UTF-8 character split across two packets stays
whole) and handed to the command's `CommandOutput`: capped tails, lines to the display.
The first stderr line, written by the bootstrap, is the remote process group id.
"""

from __future__ import annotations

import codecs
import re
import select
from typing import TYPE_CHECKING

from engine.backends.supervisor import CommandOutput

if TYPE_CHECKING:
    from paramiko import Channel

CHUNK = 65536
PGID_LINE = re.compile(rb"^runbook-pgid (\d+)\n")
PGID_MAX = 64


class Streams:
    """Moves bytes between one channel and the buffers, `pump` by `pump`."""

    def __init__(self, channel: Channel, payload: bytes, output: CommandOutput) -> None:
        self.channel = channel
        self.unsent: bytes | None = payload
        self.output = output
        self.decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in "oe"}
        self.pgid: int | None = None
        self.head: bytes | None = b""  # stderr until the pgid line was parsed, then None

    def pump(self, wait: float) -> None:
        """Send what stdin can take, read what arrived; wait up to `wait` when idle."""
        busy = self._send()
        busy = self._receive() or busy
        if not busy and wait > 0:
            select.select([self.channel], [], [], wait)

    def _send(self) -> bool:
        if self.unsent is None or not self.channel.send_ready():
            return False
        try:
            sent = self.channel.send(self.unsent[:CHUNK]) if self.unsent else 0
        except OSError:
            self.unsent = None  # the remote side closed its stdin: nothing more to say
            return False
        self.unsent = self.unsent[sent:]
        if not self.unsent:
            self.channel.shutdown_write()
            self.unsent = None
        return sent > 0

    def _receive(self) -> bool:
        busy = False
        if self.channel.recv_ready():
            self._add("o", self.channel.recv(CHUNK))
            busy = True
        if self.channel.recv_stderr_ready():
            self._stderr(self.channel.recv_stderr(CHUNK))
            busy = True
        return busy

    def _stderr(self, data: bytes) -> None:
        if self.head is None:
            self._add("e", data)
            return
        self.head += data
        match = PGID_LINE.match(self.head)
        if match:
            self.pgid = int(match.group(1))
            rest, self.head = self.head[match.end() :], None
            self._add("e", rest)
        elif b"\n" in self.head or len(self.head) > PGID_MAX:
            rest, self.head = self.head, None  # not our line: the bootstrap itself failed
            self._add("e", rest)

    def _add(self, stream: str, data: bytes, final: bool = False) -> None:
        text = self.decoders[stream].decode(data, final=final)
        if text:
            self.output.add(text, stream == "o")

    def finish(self) -> None:
        """Read what is still buffered, flush decoders and the last partial line."""
        while self._receive():
            pass
        if self.head:
            self._add("e", self.head)
            self.head = None
        for stream in "oe":
            self._add(stream, b"", final=True)
        self.output.flush()
