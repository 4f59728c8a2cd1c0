"""Hypothesis strategies for the KPI properties: random small shop days.

Scenarios start at 07:58 local so that window openings, ties (integer
seconds), bot and unknown senders, switches, transfers and releases all occur.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st
from kpi_helpers import at

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
    SessionEnd,
    Window,
)

BASE = at(7, 58)
OFFSETS = st.integers(0, 1500) | st.integers(0, 25).map(lambda minutes: 60 * minutes)
"""Seconds after BASE: anywhere, or on a whole minute (08:00, 08:10 and exact ties)."""
SENDERS = [Sender.BUYER, Sender.BUYER, Sender.BUYER, Sender.AGENT, Sender.AGENT, Sender.BOT,
           Sender.SYSTEM, Sender.UNKNOWN]


@st.composite
def sessions(draw: st.DrawFn, prefix: str = "s", buyers: tuple[str, ...] = ("b0", "b1")
             ) -> dict[str, list[Any]]:
    """Records of a few sessions: messages, hand-overs, releases, switches, ends."""
    out: dict[str, list[Any]] = {"messages": [], "handovers": [], "releases": [],
                                 "requests": [], "ends": []}
    for n in range(draw(st.integers(1, 3))):
        sid = f"{prefix}{n}"
        who = draw(st.sampled_from(buyers))
        times = draw(st.lists(OFFSETS, min_size=1, max_size=8))
        for j, t in enumerate(times):
            sender = draw(st.sampled_from(SENDERS))
            out["messages"].append(Message(
                sid, who, BASE + t, sender, f"{sid}-{j}",
                agent_id=draw(st.sampled_from(["alice", "bob"])) if sender is Sender.AGENT
                else None,
                seq=draw(st.integers(0, 2))))
        for t in draw(st.lists(OFFSETS, max_size=3)):
            out["handovers"].append(Handover(sid, who, draw(st.sampled_from(["alice", "bob"])),
                                             BASE + t, draw(st.sampled_from([None, "g"]))))
        if draw(st.booleans()):
            out["releases"].append(Release(sid, draw(st.sampled_from(["alice", "bob"])),
                                           BASE + draw(st.integers(0, 1500))))
        if draw(st.booleans()):
            out["requests"].append(HumanRequest(sid, who, BASE + draw(st.integers(0, 300))))
        if draw(st.booleans()):
            out["ends"].append(SessionEnd(sid, BASE + draw(OFFSETS)))
    return out


OPTIONS = st.fixed_dictionaries({
    "before_window": st.sampled_from(["exclude", "open"]),
    "basis": st.sampled_from(["first", "any"]),
    "as_of": st.one_of(st.none(), st.integers(0, 1800).map(lambda s: BASE + s)),
})

WINDOWS = st.sampled_from([None, Window(dt.time(8), dt.time(8, 10)), Window.whole_day()])
"""The default window; one that closes while the scenarios run; the whole day."""


@st.composite
def shop_day(draw: st.DrawFn) -> dict[str, list[Any]]:
    """``sessions()`` plus evaluation cards (some re-rated) and orders of the same buyers."""
    out = draw(sessions())
    cards = []
    for n in range(draw(st.integers(0, 4))):
        sent = BASE + draw(OFFSETS)
        cards.append(Evaluation(
            f"s{draw(st.integers(0, 2))}", draw(st.sampled_from(["b0", "b1"])),
            draw(st.sampled_from(["alice", "bob", None])), sent,
            draw(st.sampled_from(list(Rating))), draw(st.sampled_from(list(EvalSource))),
            by_bot=draw(st.booleans()), card_id=draw(st.sampled_from([None, "c0", f"c{n}"])),
            rated_at=draw(st.one_of(st.none(), OFFSETS.map(lambda t: BASE + t)))))
    out["evaluations"] = cards
    out["orders"] = [Order(f"o{n}", draw(st.sampled_from(["b0", "b1", "zz"])),
                           BASE + draw(OFFSETS), float(draw(st.integers(1, 99))))
                     for n in range(draw(st.integers(0, 3)))]
    return out
