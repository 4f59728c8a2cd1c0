"""Simulate a shop's day through the real Assigner and measure it with kefu.kpi.

The pieces, one job each:

- :mod:`kefu.sim.workload`: arrival profiles (promotion day, flat, CSV) and
  the conversation model; :mod:`kefu.sim.dist` its distributions;
  :mod:`kefu.sim.draws` a day's buyers drawn from them in bulk (numpy).
- :mod:`kefu.sim.config`: the shop (agents, cap, Assigner settings, shifts).
- :mod:`kefu.sim.driver`: the discrete-event loop over ``Assigner`` on a
  ``ManualClock``.
- :mod:`kefu.sim.report`: KPIs via ``kpi.daily_report`` over the day's records
  (the messages as a ``MessageTable``, the events' records made by
  ``kpi.from_events``' rules as they came), queue figures by hour, tables and JSON.
- :mod:`kefu.sim.staffing`: the fewest agents meeting a reply-rate target.
- :mod:`kefu.sim.erlang`: Erlang C, the theory the simulator is tested against;
  :mod:`kefu.sim.erlang_a`: Erlang A, the same with buyers who give up waiting.
- :mod:`kefu.sim.cli`: ``python -m kefu simulate`` and ``staff``.

Example::

    from kefu.sim import Profile, ShopPlan, SimConfig, Workload, measure, simulate

    config = SimConfig(workload=Workload(profile=Profile.promo(30.0)), shop=ShopPlan(agents=8))
    report = measure(simulate(config))
    report.shop_reply_rate
"""

from __future__ import annotations

from kefu.sim.config import AgentPlan, Shift, ShopPlan, SimConfig, parse_shifts, roster
from kefu.sim.dist import Dist
from kefu.sim.driver import SimResult, simulate
from kefu.sim.erlang_a import ErlangA, erlang_a, servers_for_a
from kefu.sim.errors import SimConfigError
from kefu.sim.report import Report, format_report, measure, reply_rate
from kefu.sim.staffing import Point, StaffResult, find_staff
from kefu.sim.workload import Profile, Workload, expected_duration, for_peak

__all__ = [
    "AgentPlan",
    "Dist",
    "ErlangA",
    "Point",
    "Profile",
    "Report",
    "Shift",
    "ShopPlan",
    "SimConfig",
    "SimConfigError",
    "SimResult",
    "StaffResult",
    "Workload",
    "erlang_a",
    "expected_duration",
    "find_staff",
    "for_peak",
    "format_report",
    "measure",
    "parse_shifts",
    "reply_rate",
    "roster",
    "servers_for_a",
    "simulate",
]
