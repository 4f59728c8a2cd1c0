"""A complete chat backend on kefu: many shops, persistence, recovery, timers, pushed events.

    python examples/backend.py --db shops.db --shops shop1,shop2 [--port 8765]

It speaks newline-delimited JSON over TCP (asyncio streams, no framework):

* a request ``{"id": 1, "shop": "shop1", "method": "open_session",
  "args": ["s1", "buyer1"], "request_id": "msg-42"}`` gets the reply
  ``{"id": 1, "ok": true, "events": [...]}`` once the command is durable, or
  ``{"id": 1, "ok": false, "error": "UnknownSession", "message": "..."}``;
  queries (``"method": "waiting"``) reply ``{"id": 1, "ok": true, "result": ...}``;
* ``{"subscribe": "shop1"}`` pushes that shop's events from then on, each as
  ``{"shop": "shop1", "event": event.to_dict()}``;
  a client too slow to keep up gets ``{"shop": "shop1", "lagged": true}`` and
  should re-read what it shows, then subscribe again.

Every shop lives in one SQLite file. Killed at any instant and started
again, the backend recovers every acknowledged command and fires the timers
that fell due meanwhile. SIGTERM or Ctrl-C shuts it down cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import Any

from kefu import SystemClock
from kefu.durable import SQLiteStore
from kefu.errors import KefuError, SubscriberLagged
from kefu.host import Host
from kefu.model import Config

#: Queries whose results are plain JSON (``session`` and ``agent`` return views).
JSON_QUERIES = {"waiting", "load", "session_ids", "agent_ids", "reception_list",
                "next_deadline"}


def well_formed(request: Any) -> bool:
    """Whether a decoded line is a request this backend can run (else it replies BadRequest)."""
    return (isinstance(request, dict) and isinstance(request.get("shop"), str)
            and isinstance(request.get("method"), str)
            and isinstance(request.get("args", []), list)
            and isinstance(request.get("kwargs", {}), dict)
            and "request_id" not in request.get("kwargs", {}))


async def answer(host: Host, request: dict[str, Any]) -> dict[str, Any]:
    """Run one request on its shop; the reply comes once the command is durable."""
    reply: dict[str, Any] = {"id": request.get("id")}
    method = request.get("method")
    try:
        result = await host.call(request["shop"], method, *request.get("args", ()),
                                 request_id=request.get("request_id"),
                                 **request.get("kwargs", {}))
    except KefuError as exc:  # rejected: nothing changed
        return {**reply, "ok": False, "error": type(exc).__name__, "message": str(exc)}
    if method in JSON_QUERIES:
        return {**reply, "ok": True, "result": result}
    if isinstance(result, list):
        return {**reply, "ok": True, "events": [event.to_dict() for event in result]}
    return {**reply, "ok": False, "error": "Unsupported", "message": f"{method} is not JSON"}


async def push(host: Host, shop: str, send: Any) -> None:
    """Push a shop's durable events to one client, in order, until it or the host goes."""
    try:
        async with host.subscribe(shop) as events:
            async for event in events:
                await send({"shop": shop, "event": event.to_dict()})
    except SubscriberLagged:
        await send({"shop": shop, "lagged": True})


async def serve_client(host: Host, reader: asyncio.StreamReader,
                       writer: asyncio.StreamWriter) -> None:
    """One client connection: requests in, replies and pushed events out."""
    lock = asyncio.Lock()

    async def send(message: dict[str, Any]) -> None:
        async with lock:  # one whole line at a time
            writer.write(json.dumps(message).encode() + b"\n")
            await writer.drain()

    pushers = []
    try:
        while line := await reader.readline():
            try:
                request = json.loads(line)
            except ValueError:  # not JSON, or not UTF-8
                request = None
            if isinstance(request, dict) and isinstance(request.get("subscribe"), str):
                pushers.append(asyncio.create_task(push(host, request["subscribe"], send)))
                await send({"subscribed": request["subscribe"]})
            elif well_formed(request):
                await send(await answer(host, request))
            else:
                await send({"ok": False, "error": "BadRequest",
                            "message": "expected a JSON object with shop, method, args, kwargs"})
    except ConnectionError:
        pass
    finally:
        for task in pushers:
            task.cancel()
        writer.close()


async def main(db: str, shops: list[str], port: int, config: Config) -> None:
    store = SQLiteStore(db)
    try:
        async with Host(store, clock=SystemClock(), shop_options={"config": config}) as host:
            for shop in shops:  # recover each shop and arm its timers now
                recovery = await host.open(shop)
                print(f"{shop}: {'created' if recovery.created else 'recovered'}", flush=True)
            stop = asyncio.Event()
            for signum in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(signum, stop.set)
            server = await asyncio.start_server(
                lambda r, w: serve_client(host, r, w), "127.0.0.1", port)
            print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
            await stop.wait()
            server.close()  # no new clients; closing the host finishes the calls in flight
        # Leaving the block closed the host: every shop checkpointed and released.
    finally:
        store.close()
    print("stopped", flush=True)


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the SQLite file (created if missing)")
    parser.add_argument("--shops", required=True, help="comma-separated ids of the shops")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    # A shop keeps the configuration it was created with: start again with the same.
    parser.add_argument("--first-response-timeout", type=float, default=None,
                        help="seconds an agent has for the first reply (new shops)")
    parser.add_argument("--auto-close-after", type=float, default=1200.0,
                        help="seconds of buyer silence before auto close (new shops)")
    args = parser.parse_args()
    config = Config(first_response_timeout=args.first_response_timeout,
                    auto_close_after=args.auto_close_after)
    asyncio.run(main(args.db, args.shops.split(","), args.port, config))


if __name__ == "__main__":
    cli()
