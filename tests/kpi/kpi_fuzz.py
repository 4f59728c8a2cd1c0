"""Hostile input for every KPI entry point that reaches the message kernel, on both kernels.

Run as a script (``python kpi_fuzz.py SEED CASES``), in a process of its own, so
that a crash (a segfault in the compiled kernel) is an exit status, not the
end of the test run. Each case builds records from the seed twice, once per
kernel (hostile objects have state: a list cleared by a ``__hash__`` on the
first run would not be the same input on the second), calls one entry point
on each, and compares the outcomes: an equal result, or the same exception
type and message. Prints one JSON line of counts; exits 0 unless the
process died.

Hostile values come from :func:`hostile_value`: str subclasses whose
``__hash__``/``__eq__``/``__lt__`` mutate the input list or raise, float and
int subclasses whose conversions do the same, NaN, infinities, times out of
range, huge ints, bools, -0.0, non-members of Sender, deleted fields; they go
into records past the constructors (``object.__setattr__``), into records the
constructors accept (str subclass ids), into subclasses and look-alikes of
the record classes, and into ``as_of``.
"""

from __future__ import annotations

import json
import math
import random
import re
import sys
import traceback
from collections.abc import Callable
from typing import Any, ClassVar

from kefu.errors import KefuError
from kefu.kpi import (
    EvalSource,
    Evaluation,
    Handover,
    HumanRequest,
    Message,
    Order,
    Rating,
    Release,
    Sender,
    agent_reply_rates,
    daily_report,
    group_pk,
    inquiry_conversion,
    kernel,
    response_times,
    satisfaction,
    shop_reply_rate,
)
from kefu.kpi.records import MAX_TIME
from kefu.kpi.timeline import scan_messages

BASE = 1_794_355_200.0  # 2026-11-11 00:00 Asia/Shanghai


class Box:
    """The input list of the case being built: what the hostile objects mutate."""

    items: ClassVar[list[Any]] = []


def _mutate(how: int) -> None:
    items = Box.items
    if how == 0:
        items.clear()
    elif how == 1:
        items.extend(items[:3])
    elif how == 2 and items:
        del items[len(items) // 2:]
    elif how == 3:
        items.append(object())
    elif how == 4:
        raise RuntimeError("hostile code ran")


class EvilStr(str):
    """An id whose hash, equality and order run code that mutates the input or raises."""

    how = 0

    def __hash__(self) -> int:
        _mutate(self.how)
        return str.__hash__(self)

    def __eq__(self, other: object) -> bool:
        _mutate(self.how)
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        _mutate(self.how)
        return str.__ne__(self, other)

    def __lt__(self, other: str) -> bool:
        _mutate(self.how)
        return str.__lt__(self, other)


class EvilFloat(float):
    """A time whose comparisons and conversions mutate the input."""

    def __float__(self) -> float:
        _mutate(0)
        return 1.0

    def __le__(self, other: object) -> bool:
        _mutate(2)
        return True

    def __lt__(self, other: object) -> bool:
        _mutate(2)
        return False

    def __gt__(self, other: object) -> bool:
        _mutate(2)
        return True

    def __sub__(self, other: object) -> float:
        _mutate(0)
        return 0.0


class EvilInt(int):
    """A seq (or time) whose conversions mutate the input."""

    def __index__(self) -> int:
        _mutate(0)
        return 7

    def __int__(self) -> int:
        _mutate(1)
        return 7

    def __lt__(self, other: object) -> bool:
        _mutate(2)
        return True


class LookAlike:
    """Has a Message's attributes, is not one."""

    def __init__(self, m: Message) -> None:
        for name in ("session_id", "buyer_id", "at", "sender", "message_id", "agent_id", "seq"):
            setattr(self, name, getattr(m, name))


class SubMessage(Message):
    """A Message subclass whose fields read differently each time."""

    def __getattribute__(self, name: str) -> Any:
        _mutate(3)
        value = object.__getattribute__(self, name)
        if name == "at":
            return value + random.random()
        return value


def _non_member() -> object:
    weird = object.__new__(Sender)
    return weird


TIMES: list[Callable[[], object]] = [
    lambda: math.nan, lambda: math.inf, lambda: -math.inf, lambda: -1.0, lambda: -0.0,
    lambda: 0, lambda: MAX_TIME, lambda: MAX_TIME - 2**-20, lambda: 1e300, lambda: 2**60,
    lambda: 10**400, lambda: True, lambda: None, lambda: "1", lambda: EvilFloat(BASE),
    lambda: EvilInt(int(BASE)), lambda: 3.2e12,  # year 10^5
]
SEQS: list[Callable[[], object]] = [
    lambda: 2**63, lambda: -(2**70), lambda: True, lambda: 1.5, lambda: math.nan,
    lambda: EvilInt(3), lambda: None, lambda: 10**400,
]
IDS: list[Callable[[random.Random], object]] = [
    lambda r: EvilStr(f"s{r.randrange(3)}"), lambda r: None, lambda r: 5, lambda r: b"s1",
    lambda r: "", lambda r: "x" * 100_000,
]
SENDERS: list[Callable[[], object]] = [lambda: "buyer", lambda: None, _non_member, lambda: 1]


def _evil_str(r: random.Random, stem: str) -> str:
    s = EvilStr(f"{stem}{r.randrange(4)}")
    s.how = r.randrange(5)
    return s


def _message(r: random.Random, n: int) -> Message:
    ids = (lambda stem: _evil_str(r, stem)) if r.random() < 0.15 else (
        lambda stem: f"{stem}{r.randrange(4)}")
    sender = r.choice(list(Sender))
    return Message(ids("s"), ids("b"), BASE + 30_000 + r.randrange(600) + r.choice([0, 0.5]),
                   sender, ids("m") if r.random() < 0.05 else f"m{n}",
                   agent_id=ids("a") if sender is Sender.AGENT else None,
                   seq=r.choice([0, 0, 0, 1, -1]))


def _spoil(r: random.Random, rec: Any, fields: list[str], time_fields: list[str]) -> Any:
    """``rec`` with one field set or deleted past the constructor's check."""
    name = r.choice(fields)
    roll = r.random()
    if roll < 0.1:
        object.__delattr__(rec, name)
    elif name in time_fields:
        object.__setattr__(rec, name, r.choice(TIMES)())
    elif name == "seq":
        object.__setattr__(rec, name, r.choice(SEQS)())
    elif name in ("sender", "rating", "source"):
        object.__setattr__(rec, name, r.choice(SENDERS)())
    else:
        object.__setattr__(rec, name, r.choice(IDS)(r))
    return rec


def _messages(r: random.Random) -> list[Any]:
    clean = [_message(r, n) for n in range(r.randrange(0, 90))]
    for _ in range(r.randrange(0, 4)):  # copies near and far
        if clean:
            clean.insert(r.randrange(len(clean) + 1), r.choice(clean))
    msgs: list[Any] = list(clean)
    fields = ["session_id", "buyer_id", "at", "sender", "message_id", "agent_id", "seq"]
    for _ in range(r.choice([0, 0, 1, 1, 2])):
        if not msgs:
            break
        k = r.randrange(len(msgs))
        roll = r.random()
        m = clean[k]
        if roll < 0.6:
            msgs[k] = _spoil(r, Message(m.session_id, m.buyer_id, m.at, m.sender, m.message_id,
                                        m.agent_id, m.seq), fields, ["at"])
        elif roll < 0.75:
            msgs[k] = LookAlike(m)
        elif roll < 0.9:
            msgs[k] = SubMessage(m.session_id, m.buyer_id, m.at, m.sender, m.message_id,
                                 m.agent_id, m.seq)
        else:
            msgs[k] = r.choice([None, 5, "m", (1, 2)])
    return msgs


def _others(r: random.Random) -> dict[str, list[Any]]:
    t = BASE + 30_000
    hand: list[Any] = [Handover(f"s{k}", f"b{k}", r.choice(["alice", "bob"]), t + r.randrange(60),
                                r.choice([None, "g1"])) for k in range(r.randrange(4))]
    rel: list[Any] = [Release("s0", "alice", t + 300)] if r.random() < 0.3 else []
    req: list[Any] = [HumanRequest("s1", "b1", t + 5)] if r.random() < 0.3 else []
    evs: list[Any] = [Evaluation(f"s{k}", f"b{k}", "alice", t + 100, r.choice(list(Rating)),
                                 EvalSource.BUYER) for k in range(r.randrange(3))]
    orders: list[Any] = [Order(f"o{k}", f"b{k}", t + 400, 10.0) for k in range(r.randrange(3))]
    kinds = {"handovers": (hand, ["session_id", "buyer_id", "agent_id", "at", "group", "seq"],
                           ["at"]),
             "releases": (rel, ["session_id", "agent_id", "at", "seq"], ["at"]),
             "requests": (req, ["session_id", "buyer_id", "at", "seq"], ["at"]),
             "evaluations": (evs, ["session_id", "buyer_id", "agent_id", "sent_at", "rating",
                                   "source", "by_bot", "card_id", "rated_at"],
                             ["sent_at", "rated_at"]),
             "orders": (orders, ["order_id", "buyer_id", "at", "amount"], ["at", "amount"])}
    for recs, fields, times in kinds.values():
        if recs and r.random() < 0.15:
            k = r.randrange(len(recs))
            recs[k] = _spoil(r, recs[k], fields, times)
    return {name: recs for name, (recs, _f, _t) in kinds.items()}


AS_OF: list[Callable[[], object]] = [
    lambda: None, lambda: None, lambda: BASE + 30_300, lambda: math.nan, lambda: math.inf,
    lambda: -1.0, lambda: 2.0**40, lambda: True, lambda: EvilFloat(BASE), lambda: 10**400,
]


def _call(entry: str, case: dict[str, Any]) -> Any:
    msgs, o, as_of = case["messages"], case["others"], case["as_of"]
    common: dict[str, Any] = {"as_of": as_of}
    if entry == "scan":
        if as_of is not None and (type(as_of) is not float or not 0 <= as_of < MAX_TIME):
            return None  # (the functions validate as_of before the scan)
        fields = scan_messages(msgs, math.inf if as_of is None else as_of).fields()
        return [x.tolist() if hasattr(x, "tolist") else x for x in fields]
    if entry == "shop":
        return shop_reply_rate(msgs, o["handovers"], requests=o["requests"],
                               releases=o["releases"], basis=case["basis"], detail=True,
                               **common)
    if entry == "agents":
        return agent_reply_rates(msgs, o["handovers"], requests=o["requests"],
                                 releases=o["releases"], **common)
    if entry == "times":
        return response_times(msgs, o["handovers"], requests=o["requests"], **common)
    if entry == "conversion":
        return inquiry_conversion(msgs, o["handovers"], o["orders"], **common)
    if entry == "pk":
        return group_pk(msgs, o["handovers"], o["orders"], **common)
    if entry == "satisfaction":
        return satisfaction(o["evaluations"], o["handovers"], **common)
    return daily_report(msgs, o["handovers"], o["evaluations"], o["orders"],
                        requests=o["requests"], releases=o["releases"], detail=True, **common)


ENTRIES = ("scan", "shop", "agents", "times", "conversion", "pk", "satisfaction", "report")


def build(seed: int) -> dict[str, Any]:
    """One case's records, made fresh (hostile objects mutate ``Box.items``: the messages)."""
    r = random.Random(seed)
    msgs = _messages(r)
    Box.items = msgs
    as_of = r.choice(AS_OF)() if r.random() < 0.3 else None
    return {"messages": msgs if r.random() < 0.8 else iter(msgs), "others": _others(r),
            "as_of": as_of, "basis": r.choice(["first", "any"]),
            "entry": ENTRIES[r.randrange(len(ENTRIES))]}


def outcome(seed: int, active: str) -> tuple[str, Any]:
    """("ok", result) or ("error", (type name, message, is a KefuError))."""
    case = build(seed)
    random.seed(seed)  # SubMessage's reads, the same on both kernels
    kernel.ACTIVE = active
    try:
        return "ok", _call(case["entry"], case)
    except Exception as exc:  # compared between the kernels, then classified
        message = re.sub(r"0x[0-9a-f]+", "0x...", str(exc))  # object addresses differ
        return "error", (type(exc).__name__, message, isinstance(exc, KefuError),
                         traceback.format_exc(limit=4))


def run(first: int, cases: int) -> dict[str, Any]:
    """Counts over seeds ``first .. first + cases - 1``; the seeds of any defect."""
    kernels = kernel.AVAILABLE
    counts = {"cases": 0, "equal": 0, "rejected": 0, "mismatch": [], "foreign_error": []}
    for seed in range(first, first + cases):
        results = [outcome(seed, k) for k in kernels]
        counts["cases"] += 1
        kinds = {res[0] for res in results}
        try:
            if kinds == {"ok"}:
                same = all(res[1] == results[0][1] for res in results)
            elif kinds == {"error"}:
                same = all(res[1][:2] == results[0][1][:2] for res in results)
            else:
                same = False
        except Exception:  # a hostile object left in a result: a defect too
            same = False
        if not same:
            counts["mismatch"].append([seed, [repr(res)[:600] for res in results]])
        elif kinds == {"ok"}:
            counts["equal"] += 1
        elif results[0][1][2]:
            counts["rejected"] += 1
        else:
            counts["foreign_error"].append([seed, results[0][1][3][-600:]])
    return counts


def main(argv: list[str]) -> None:
    sys.setrecursionlimit(10_000)
    first, cases = int(argv[0]), int(argv[1])
    print(json.dumps({"kernels": list(kernel.AVAILABLE), **run(first, cases)}))


if __name__ == "__main__":
    main(sys.argv[1:])
