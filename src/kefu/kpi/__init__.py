"""KPIs of shop customer service, as pure functions over records (rules K00-K14),
and live figures (:class:`LiveTracker`, K12).

Records in (:class:`Message`, :class:`Handover`, :class:`HumanRequest`,
:class:`Evaluation`, :class:`Order` ...), results out (:class:`Rate` and
friends). Nothing here reads the clock: the "now" of a real-time figure is
the ``as_of`` parameter. See docs/kpi.md for every definition.
"""

from __future__ import annotations

from kefu.kpi.adapter import Records, from_events
from kefu.kpi.conversion import group_pk, inquiry_conversion
from kefu.kpi.errors import (
    InvalidDay,
    InvalidRecord,
    InvalidThreshold,
    InvalidTime,
    InvalidWindow,
    KpiArgumentError,
    NaiveDatetime,
    NestedCall,
    TimezoneFailed,
    UnknownBasis,
    UnknownPolicy,
    UnknownTimezone,
)
from kefu.kpi.live import LiveTracker
from kefu.kpi.ratings import satisfaction
from kefu.kpi.recorder import Recorder
from kefu.kpi.records import (
    MAX_TIME,
    MIN_TIME,
    AgentStatus,
    EvalSource,
    Evaluation,
    Exclusion,
    Handover,
    HumanRequest,
    Message,
    Order,
    Rating,
    Release,
    Sender,
    SessionEnd,
)
from kefu.kpi.reply import agent_reply_rates, shop_reply_rate
from kefu.kpi.report import DailyReport, daily_report
from kefu.kpi.response import response_times
from kefu.kpi.results import (
    AgentScore,
    DataQuality,
    Durations,
    GroupPK,
    Rate,
    ResponseStats,
    ResponseTimes,
    Satisfaction,
    ShopReplyRate,
    Status,
    TeamScore,
    Unit,
)
from kefu.kpi.service import (
    Contact,
    ContactOutcome,
    Ratio,
    ServiceFigures,
    ServiceReport,
    service_figures,
)
from kefu.kpi.table import SENDER_CODES, MessageTable
from kefu.kpi.window import Basis, BeforeWindow, Window, day_bounds, to_posix

__all__ = [
    "MAX_TIME",
    "MIN_TIME",
    "SENDER_CODES",
    "AgentScore",
    "AgentStatus",
    "Basis",
    "BeforeWindow",
    "Contact",
    "ContactOutcome",
    "DailyReport",
    "DataQuality",
    "Durations",
    "EvalSource",
    "Evaluation",
    "Exclusion",
    "GroupPK",
    "Handover",
    "HumanRequest",
    "InvalidDay",
    "InvalidRecord",
    "InvalidThreshold",
    "InvalidTime",
    "InvalidWindow",
    "KpiArgumentError",
    "LiveTracker",
    "Message",
    "MessageTable",
    "NaiveDatetime",
    "NestedCall",
    "Order",
    "Rate",
    "Rating",
    "Ratio",
    "Recorder",
    "Records",
    "Release",
    "ResponseStats",
    "ResponseTimes",
    "Satisfaction",
    "Sender",
    "ServiceFigures",
    "ServiceReport",
    "SessionEnd",
    "ShopReplyRate",
    "Status",
    "TeamScore",
    "TimezoneFailed",
    "Unit",
    "UnknownBasis",
    "UnknownPolicy",
    "UnknownTimezone",
    "Window",
    "agent_reply_rates",
    "daily_report",
    "day_bounds",
    "from_events",
    "group_pk",
    "inquiry_conversion",
    "response_times",
    "satisfaction",
    "service_figures",
    "shop_reply_rate",
    "to_posix",
]
