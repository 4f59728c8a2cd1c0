"""``python -m kefu bench``: both tables run small, and each figure is beside its goal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kefu import kpi
from kefu.__main__ import main
from kefu._bench_figures import DAY, Figure, format_figures, synthetic_day
from kefu.assigner import ENGINES

ENGINE = "c" if "c" in ENGINES else "py"
SMALL = ["--agents", "5", "--open", "50", "--replay", "600", "--steps", "50",
         "--size", "3000", "--sim-peak", "20", "--staff-peak", "20"]


def _figure(value: float, goal: float | None, higher: bool) -> Figure:
    return Figure(name="x", items=10, item="call", seconds=1.0, value=value, unit="s",
                  higher=higher, goal=goal, goal_text="goal", floor_call=1e-6, floor_c=1e-8)


def test_bench_json_has_the_engine_rows_and_every_figure(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    engine = ENGINE
    assert main(["bench", "--engines", engine, "--json", *SMALL]) == 0
    rows = json.loads(capsys.readouterr().out)
    engine_rows = [r for r in rows if r.get("kind") != "figure"]
    figures = {r["workload"]: r for r in rows if r.get("kind") == "figure"}
    assert {r["workload"] for r in engine_rows} >= {"open+close", "drain backlog"}
    assert all(r[engine] > 0 for r in engine_rows)
    assert set(figures) == {
        f"open_session/close_session ({engine})", f"Assigner.apply ({engine})",
        f"Assigner.apply_columns ({engine})",
        "simulate --peak 20 --agents 1 (whole command)",
        "staff --peak 20 --cap 50 (whole command)", "daily_report from MessageTable",
        "daily_report from records", "LiveTracker fed, record by record",
        "LiveTracker shop query (3,000 messages)",
    }
    for f in figures.values():
        assert f["value"] > 0 and f["seconds"] > 0 and f["goal_text"]
        assert f["floor_python_call_s"] > f["floor_c_loop_s"] > 0
        if f["goal"] is not None:
            better = f["value"] >= f["goal"] if f["higher_is_better"] else f["value"] <= f["goal"]
            assert f["met"] is better
    assert figures["daily_report from records"]["items"] == 3000
    day = figures["simulate --peak 20 --agents 1 (whole command)"]
    assert day["goal"] is None and "measuring" in day["note"]  # the goal is for a peak of 2000
    search = figures["staff --peak 20 --cap 50 (whole command)"]
    assert search["goal"] is None and search["items"] == 1  # its goal too
    answer = json.loads(_staff_json(20))
    days = sum(len(point["rates"]) for point in answer["points"])
    assert f"answer {answer['agents']} agents from {days} simulated days" in search["note"]
    # a goal set for 2,000,000 messages is scaled to the size measured
    assert figures["daily_report from MessageTable"]["goal"] == pytest.approx(1.5 * 3000 / 2e6)
    assert figures[f"Assigner.apply ({engine})"]["items"] >= 600
    assert (figures[f"Assigner.apply_columns ({engine})"]["items"]
            == figures[f"Assigner.apply ({engine})"]["items"])


def test_bench_figures_table_only_says_goals_and_floors(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    assert main(["bench", "--only", "figures", "--engines", ENGINE, *SMALL,
                 "--size", "0", "--live-size", "0", "--sim-peak", "0", "--staff-peak", "0"]) == 0
    out = capsys.readouterr().out
    head, *lines = out.splitlines()
    assert "floor: Python calls" in head and "floor: C loop" in head and "goal" in head
    assert len(lines) == 3 and ">= 3,000,000 commands/s" in out
    assert ">= 5,000,000 commands/s" in out
    assert "daily_report" not in out and "open+close" not in out


def _staff_json(peak: int) -> str:
    """What ``python -m kefu staff`` answers at ``peak`` (cap 50), as the bench runs it."""
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "kefu", "staff", "--cap", "50", "--peak",
                           str(peak), "--no-progress", "--json"], capture_output=True,
                          text=True, check=True).stdout


def test_the_staffing_figure_has_its_goal_at_a_peak_of_2000(monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """The staffing search's goal (90 s) is set for a peak of 2,000; the command it times
    is the one a planner runs, and its answer is in the note."""
    import subprocess

    import kefu._bench_figures as figures

    ran: list[list[str]] = []
    answer = json.dumps({"agents": 31, "points": [{"rates": [0.9, 0.91, 0.92]},
                                                  {"rates": [0.8]}]})

    def fake_run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        ran.append(argv)
        return subprocess.CompletedProcess(argv, 0, stdout=answer, stderr="")

    monkeypatch.setattr(figures.subprocess, "run", fake_run)
    figure = figures.staffing(figures.Floors(), 2000)
    assert ran[0][1:] == ["-m", "kefu", "staff", "--cap", "50", "--peak", "2000",
                          "--no-progress", "--json"]
    assert figure.goal == 90.0 and figure.met is (figure.value <= 90.0)
    assert "answer 31 agents from 4 simulated days" in figure.note


def test_bench_rejects_a_negative_size(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--size", "-1"]) == 2
    assert "expected a number >= 0" in capsys.readouterr().err


def test_figure_says_how_far_from_its_goal() -> None:
    slow, fast = _figure(3.0, 2.0, higher=False), _figure(1.0, 2.0, higher=False)
    rate = _figure(1e6, 3e6, higher=True)
    assert (slow.met, slow.off_by) == (False, 1.5)
    assert (fast.met, fast.off_by) == (True, 0.5)
    assert (rate.met, rate.off_by) == (False, 3.0)
    assert _figure(1.0, None, higher=False).met is None
    table = format_figures([slow, fast])
    assert "1.50x" in table and "0.50x (met)" in table and "1.50x (met)" not in table


def test_synthetic_day_is_a_time_ordered_day_of_exactly_n_messages() -> None:
    table, handovers = synthetic_day(1010, agents=7)
    assert len(table) == 1010 and len(handovers) == 51  # 20 a session, the last one shorter
    assert np.all(np.diff(table.at) >= 0)
    agent = table.sender == kpi.SENDER_CODES[kpi.Sender.AGENT]
    assert all(a is not None for a in table.agent_id[agent])
    assert all(a is None for a in table.agent_id[~agent])
    holder = {h.session_id: h.agent_id for h in handovers}
    assert all(holder[s] == a for s, a in zip(table.session_id[agent], table.agent_id[agent],
                                              strict=True))
    assert len(set(table.message_id.tolist())) == 1010
    report = kpi.daily_report(table, handovers, day=DAY, tz="Asia/Shanghai")
    assert report.shop.met + report.shop.missed == len(handovers)


def test_bench_rejects_zero_repeats(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--repeats", "0"]) == 2
    assert "expected at least 1 run" in capsys.readouterr().err


def test_a_timed_figure_is_the_least_of_its_runs_each_on_a_fresh_subject(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The best of ``repeats`` runs, not the first or the mean: a shared machine's other
    work only adds time. Each run gets a subject made for it, outside the clock."""
    import kefu._bench_figures as figures

    ticks = iter([0.0, 5.0, 10.0, 12.0, 20.0, 29.0])  # runs of 5, 2 and 9 s
    monkeypatch.setattr(figures.time, "perf_counter", lambda: next(ticks))
    made: list[object] = []
    ran: list[object] = []

    def make() -> object:
        made.append(object())
        return made[-1]

    assert figures._fresh_best(3, make, ran.append) == 2.0
    assert ran == made and len({id(m) for m in made}) == 3
    with pytest.raises(StopIteration):  # every tick was read: three runs, no more
        next(ticks)


def test_bench_figures_run_as_many_times_as_asked(capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import kefu._bench_figures as figures

    runs: list[int] = []
    wall = figures._wall
    monkeypatch.setattr(figures, "_wall",
                        lambda run, repeats=1: runs.append(repeats) or wall(run, repeats))
    assert main(["bench", "--only", "figures", "--engines", ENGINE, *SMALL, "--size", "500",
                 "--sim-peak", "0", "--staff-peak", "0", "--repeats", "2"]) == 0
    # open/close keeps its own three timed runs (its goal is counted by callgrind);
    # apply, apply_columns and the tracker: a fresh subject each of 2 runs; the reports: 2;
    # the tracker's steady queries: one run of 20.
    assert runs == [3, *[1] * 4, 2, 2, *[1] * 2, 1]
    assert "LiveTracker fed" in capsys.readouterr().out


def test_figures_are_timed_with_the_collector_on_and_its_pause_is_kept() -> None:
    """The ``kefu`` command pauses the garbage collector for itself; a service that
    embeds kefu has it on, so the library's figures are timed with it on."""
    import gc

    import kefu._bench_figures as figures

    seen: list[bool] = []
    was = gc.isenabled()
    gc.disable()
    try:
        figures._wall(lambda: seen.append(gc.isenabled()), 2)
        assert seen == [True, True] and not gc.isenabled()
        gc.enable()
        figures._wall(lambda: seen.append(gc.isenabled()))
        assert seen[-1] and gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()
