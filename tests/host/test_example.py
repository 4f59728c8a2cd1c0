"""The integration guide's example backend, end to end: a real process, killed and restarted.

The backend runs as a subprocess on a real SQLite file and the real clock;
a client speaks its JSON protocol over TCP. The scenario: commands and a
retried request id, pushed events, a crash (SIGKILL) with a timer pending,
recovery on restart (the timer fires at its deadline), and a clean SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from host_helpers import run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "backend.py"
TIMEOUT = 6.0
"""The first-response timeout: the test's steps before the crash and the second
backend's start must fit in it, or the timer fires before the client subscribes
and its event goes to nobody (2.5 s was too short on a loaded 2-core machine)."""


class Backend:
    """The example backend as a child process."""

    def __init__(self, db: Path, timeout: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(EXAMPLE), "--db", str(db), "--shops", "shop1,shop2",
             "--port", "0", "--first-response-timeout", str(timeout)],
            stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.lines = []
        while not (line := self.proc.stdout.readline()).startswith("listening on"):
            assert line, "the backend exited before listening"
            self.lines.append(line.strip())
        self.port = int(line.split()[-1])

    def stop(self, signum: int) -> int:
        """Send ``signum``, wait for the exit, keep what it printed last; the exit code."""
        assert self.proc.stdout is not None
        self.proc.send_signal(signum)
        code = self.proc.wait(10)
        self.tail = self.proc.stdout.read()
        self.proc.stdout.close()
        return code


class Client:
    """Sends requests, matches replies by id, and queues pushed events."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.pushed: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.next_id = 0

    @classmethod
    async def connect(cls, port: int) -> Client:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def _send(self, message: dict[str, Any]) -> None:
        self.writer.write(json.dumps(message).encode() + b"\n")
        await self.writer.drain()

    async def _reply(self, key: str, value: object) -> dict[str, Any]:
        while True:
            message = json.loads(await self.reader.readline())
            if message.get(key) == value:
                return message  # type: ignore[no-any-return]
            await self.pushed.put(message)

    async def subscribe(self, shop: str) -> None:
        await self._send({"subscribe": shop})
        await self._reply("subscribed", shop)

    async def call(self, shop: str, method: str, *args: Any, **extra: Any) -> dict[str, Any]:
        self.next_id += 1
        await self._send({"id": self.next_id, "shop": shop, "method": method,
                          "args": list(args), **extra})
        return await self._reply("id", self.next_id)

    async def event(self) -> dict[str, Any]:
        if self.pushed.empty():
            await self.pushed.put(json.loads(await asyncio.wait_for(self.reader.readline(), 10)))
        return await self.pushed.get()

    async def close(self) -> None:
        self.writer.close()


def test_S08_example_backend_recovers_after_a_crash_and_fires_timers(tmp_path: Path) -> None:
    db = tmp_path / "shops.db"
    first = Backend(db, timeout=TIMEOUT)
    assert first.lines == ["shop1: created", "shop2: created"]

    async def before_crash() -> dict[str, Any]:
        client = await Client.connect(first.port)
        # Malformed lines get an error reply; the connection stays usable.
        for bad in (b"not json", b"\xff\xfe", b"[1, 2]", b'{"shop": 5, "method": "waiting"}',
                    b'{"shop": "shop1", "method": "waiting", "args": {}}'):
            client.writer.write(bad + b"\n")
            reply = json.loads(await asyncio.wait_for(client.reader.readline(), 10))
            assert reply["error"] == "BadRequest", bad
        await client.subscribe("shop1")
        assert (await client.call("shop1", "add_agent", "alice",
                                  kwargs={"online": True}))["ok"]
        opened = await client.call("shop1", "open_session", "s1", "b1", request_id="m-1")
        assert opened["ok"] and [e["session_id"] for e in opened["events"]] == ["s1", "s1"]
        again = await client.call("shop1", "open_session", "s1", "b1", request_id="m-1")
        assert again["events"] == opened["events"]  # a retry: same events, nothing new
        refused = await client.call("shop2", "close_session", "nobody")
        assert refused["error"] == "UnknownSession" and "nobody" in refused["message"]
        assert (await client.call("shop1", "waiting"))["result"] == []
        pushed = [await client.event(), await client.event()]
        assert [p["event"] for p in pushed] == opened["events"]
        await client.close()
        return opened

    opened = run(before_crash())
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL  # a crash, timer pending

    second = Backend(db, timeout=TIMEOUT)
    assert second.lines == ["shop1: recovered", "shop2: recovered"]

    async def after_restart() -> None:
        client = await Client.connect(second.port)
        await client.subscribe("shop1")
        assert (await client.call("shop1", "load", "alice"))["result"] == 1
        again = await client.call("shop1", "open_session", "s1", "b1", request_id="m-1")
        assert again["events"] == opened["events"]
        timed_out = (await client.event())["event"]
        assigned_at = opened["events"][1]["at"]
        assert timed_out["session_id"] == "s1" and timed_out["at"] == assigned_at + TIMEOUT
        assert type(_event(timed_out)).__name__ == "ResponseTimedOut"
        await client.close()

    run(after_restart())
    assert second.stop(signal.SIGTERM) == 0
    assert second.tail.strip() == "stopped"


def _event(data: dict[str, Any]) -> object:
    from kefu.events import from_dict

    return from_dict(data)
