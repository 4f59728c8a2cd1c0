"""KPI calculator benchmark: one day of a big shop (pytest-benchmark).

    pytest benchmarks/bench_kpi.py --benchmark-group-by=func
    python benchmarks/bench_kpi.py [sessions messages] [--repeat N] [--profile]

The second form makes the day once and times ``daily_report`` (N times, on
each KPI kernel: compiled and pure Python), ``shop_reply_rate``, and the
message pass alone on each kernel (with the record checks the pure one
starts with) without pytest; ``--profile`` adds a cProfile summary of
one ``daily_report``. Measured figures and where the time goes: docs/kpi.md
("Performance").

The day: 100,000 sessions and 2,000,000 messages on 2026-11-11 (Asia/Shanghai),
200 agents in two groups, 10 % of sessions start with the bot and switch to
human service, 10 % are transferred once, one wait in eight is answered late,
plus 20,000 evaluations and 30,000 orders. Records are made once per size
(not timed); the timed part is the KPI computation only.
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import time
import zoneinfo
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import only_when_timed
from kefu import kpi
from kefu.kpi import (
    EvalSource,
    Evaluation,
    Handover,
    HumanRequest,
    Message,
    Order,
    Rating,
    Sender,
    kernel,
)
from kefu.kpi.intake import checked
from kefu.kpi.timeline import scan_messages

DAY = dt.date(2026, 11, 11)
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
BIG = (100_000, 2_000_000)
SMALL = (1_000, 20_000)


def make_day(sessions: int, messages: int, seed: int = 11) -> dict[str, Any]:
    """Deterministic records of one busy day.

    Messages are made in time order, as a loader reading a message store
    would make them, then 1 % of neighbours are swapped and 0.2 % are
    delivered twice: out-of-order and duplicated input, realistic memory layout.
    """
    rnd = random.Random(seed)
    t_open = dt.datetime.combine(DAY, dt.time(7, 30), TZ).timestamp()
    span = 16 * 3600.0
    per = messages // sessions
    n_agents = 200
    raw: list[tuple[float, int, int, Sender, int]] = []  # (at, session, buyer, sender, agent)
    hand: list[Handover] = []
    reqs: list[HumanRequest] = []
    evals: list[Evaluation] = []
    orders: list[Order] = []
    for i in range(sessions):
        sid = f"s{i}"
        b = rnd.randrange(sessions * 4 // 5)
        buyer = f"b{b}"
        group = "presale" if i % 3 else "aftersale"
        t = t_open + rnd.random() * span
        agent = rnd.randrange(n_agents)
        left = per
        if i % 10 == 0:  # bot first, then 转人工
            raw.append((t, i, b, Sender.BUYER, -1))
            raw.append((t + 1, i, b, Sender.BOT, -1))
            left -= 2
            t += 20 + rnd.random() * 60
            reqs.append(HumanRequest(sid, buyer, t))
        hand.append(Handover(sid, buyer, f"a{agent:03d}", t + rnd.random() * 30, group))
        if i % 10 == 5:
            hand.append(Handover(sid, buyer, f"a{rnd.randrange(n_agents):03d}",
                                 t + 60 + rnd.random() * 240, group))
        while left > 0:
            burst = min(left - 1, 1 + rnd.randrange(2)) if left > 1 else 1
            for _ in range(burst):
                raw.append((t, i, b, Sender.BUYER, -1))
                t += 2 + rnd.random() * 10
            left -= burst
            if left <= 0:
                break
            t += rnd.random() * 120 if rnd.random() < 0.875 else 180 + rnd.random() * 300
            raw.append((t, i, b, Sender.AGENT, agent))
            left -= 1
            t += 5 + rnd.random() * 60
        if i % 5 == 0:
            evals.append(Evaluation(sid, buyer, f"a{agent:03d}", t + 5,
                                    rnd.choice(list(Rating)), EvalSource.INVITED,
                                    card_id=f"c{i}"))
        if i % 10 < 3:
            orders.append(Order(f"o{i}", buyer, t + rnd.random() * 3600,
                                round(rnd.uniform(9.9, 999.0), 2)))
    raw.sort()
    msgs = [
        Message(f"s{i}", f"b{b}", at, sender, f"m{n}",
                agent_id=None if a < 0 else f"a{a:03d}")
        for n, (at, i, b, sender, a) in enumerate(raw)
    ]
    del raw
    for _ in range(len(msgs) // 100):
        j = rnd.randrange(len(msgs) - 1)
        msgs[j], msgs[j + 1] = msgs[j + 1], msgs[j]
    for _ in range(len(msgs) // 500):
        m = msgs[rnd.randrange(len(msgs))]
        msgs.append(Message(m.session_id, m.buyer_id, m.at, m.sender, m.message_id,
                            agent_id=m.agent_id))
    return {"messages": msgs, "handovers": hand, "requests": reqs, "evaluations": evals,
            "orders": orders}


_CACHE: dict[tuple[int, int], dict[str, Any]] = {}


def _data(size: tuple[int, int]) -> dict[str, Any]:
    if size not in _CACHE:
        _CACHE.clear()
        _CACHE[size] = make_day(*size)
    return _CACHE[size]


def _report(d: dict[str, Any]) -> kpi.DailyReport:
    return kpi.daily_report(d["messages"], d["handovers"], d["evaluations"], d["orders"],
                            requests=d["requests"], day=DAY, tz=TZ)


def _shop(d: dict[str, Any]) -> kpi.ShopReplyRate:
    return kpi.shop_reply_rate(d["messages"], d["handovers"], requests=d["requests"],
                               day=DAY, tz=TZ)


@pytest.fixture(params=["c", "py"])
def kpi_kernel(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each timing on the compiled KPI kernel and on pure Python, in one run (a ratio)."""
    if request.param not in kernel.AVAILABLE:
        pytest.skip(f"KPI kernel {request.param!r} not built here")
    saved = kernel.ACTIVE
    kernel.ACTIVE = request.param
    yield request.param
    kernel.ACTIVE = saved


@pytest.mark.parametrize("size", [SMALL, BIG], ids=["20k-messages", "2M-messages"])
def test_daily_report(benchmark: Any, size: tuple[int, int], kpi_kernel: str) -> None:
    only_when_timed(benchmark.disabled and size == BIG, "20k messages run the same code")
    d = _data(size)
    rep = benchmark.pedantic(_report, args=(d,), rounds=1, iterations=1)
    assert rep.shop.total > size[0] // 2  # buyer-days: 100k sessions of ~56k buyers
    assert rep.shop.rate is not None and 0.5 < rep.shop.rate < 1.0
    assert len(rep.agents) > 150


@pytest.mark.parametrize("size", [SMALL, BIG], ids=["20k-messages", "2M-messages"])
def test_shop_reply_rate(benchmark: Any, size: tuple[int, int], kpi_kernel: str) -> None:
    only_when_timed(benchmark.disabled and size == BIG, "20k messages run the same code")
    d = _data(size)
    r = benchmark.pedantic(_shop, args=(d,), rounds=1, iterations=1)
    assert r.per_session.total > 0.9 * size[0]


def _bare_loop() -> float:
    """Seconds for ``for x in range(3_000_000): s += x``: how busy the machine is now."""
    t = time.perf_counter()
    s = 0
    for x in range(3_000_000):
        s += x
    return time.perf_counter() - t


def _parts(messages: list[Message]) -> None:
    """The message pass on each kernel, and the record checks the pure one starts with."""
    for name in kernel.AVAILABLE:
        kernel.ACTIVE = name
        t = time.perf_counter()
        scan_messages(messages)
        print(f"message pass [{name}]: {time.perf_counter() - t:.2f} s")
    kernel.ACTIVE = kernel.AVAILABLE[0]
    t = time.perf_counter()
    checked(messages, Message)
    print(f"  of which the pure pass's record checks: {time.perf_counter() - t:.2f} s")


def main(argv: list[str]) -> None:
    """One day, timed without pytest (see the module docstring)."""
    args = [a for a in argv if not a.startswith("--")]
    sessions, messages = (int(a) for a in args[:2]) if len(args) >= 2 else BIG
    repeat = int(argv[argv.index("--repeat") + 1]) if "--repeat" in argv else 1
    t0 = time.perf_counter()
    data = make_day(sessions, messages)
    print(f"made {len(data['messages']):,} messages / {sessions:,} sessions in "
          f"{time.perf_counter() - t0:.1f} s")
    print(f"machine speed: a bare 3M-step Python loop takes {_bare_loop():.2f} s "
          "(0.2 s when docs/kpi.md's figures were taken)")
    best: dict[str, float] = {}
    for _ in range(repeat):
        for name in kernel.AVAILABLE:  # interleaved: a busy machine slows both alike
            kernel.ACTIVE = name
            t1 = time.perf_counter()
            rep = _report(data)
            took = time.perf_counter() - t1
            best[name] = min(took, best.get(name, took))
            print(f"daily_report [{name}]: {took:.2f} s; shop rate {rep.shop.rate:.4f} "
                  f"({rep.shop.met}/{rep.shop.denominator}), agents {len(rep.agents)}")
            del rep
    if len(best) == 2:
        print(f"best of {repeat}: c {best['c']:.2f} s, py {best['py']:.2f} s, "
              f"py/c {best['py'] / best['c']:.2f}x")
    kernel.ACTIVE = kernel.AVAILABLE[0]
    t3 = time.perf_counter()
    _shop(data)
    print(f"shop_reply_rate alone [{kernel.ACTIVE}]: {time.perf_counter() - t3:.2f} s")
    _parts(data["messages"])
    if "--profile" in argv:
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.runcall(_report, data)
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    main(sys.argv[1:])
