"""``python -m kefu simulate`` / ``staff``: the JSON contract, tables, help, and bad options."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kefu.__main__ import COMMANDS, main
from kefu.sim.progress import ProgressBar

SIMULATE_KEYS = {"sessions", "peak_concurrent", "shop_reply_rate", "agent_reply_rates",
                 "max_queue", "mean_queue_wait", "engine"}
STAFF_KEYS = {"agents", "cap", "reply_rate", "curve"}


@pytest.fixture
def morning(tmp_path: Path) -> str:
    """A CSV profile: 4 arrivals a minute from 08:00 to 09:00 (about 240 buyers)."""
    f = tmp_path / "morning.csv"
    f.write_text("minute,arrivals\n" + "".join(f"{m},4\n" for m in range(480, 540)))
    return str(f)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_json_contract(capsys: pytest.CaptureFixture[str], morning: str) -> None:
    code, out, err = run(capsys, "simulate", "--profile", morning, "--agents", "3", "--cap",
                         "5", "--seed", "1", "--json")
    assert code == 0, err
    data = json.loads(out)  # one JSON object, nothing else on stdout
    assert isinstance(data, dict) and set(data) >= SIMULATE_KEYS
    assert data["sessions"] > 150 and data["peak_concurrent"] > 0
    assert 0 <= data["shop_reply_rate"] <= 1
    assert set(data["agent_reply_rates"]) == {"a01", "a02", "a03"}
    assert data["engine"] in ("python", "cython")
    assert isinstance(data["mean_queue_wait"], float) and data["max_queue"] >= 0
    assert data["config"]["agents"] == 3 and data["config"]["cap"] == 5
    assert {"first", "replies"} <= set(data["response_times"])
    assert any(h["arrivals"] for h in data["hours"] if h["hour"] == 8)
    assert err == ""  # no progress bar: stderr is not a terminal here


def test_simulate_json_is_deterministic(capsys: pytest.CaptureFixture[str], morning: str) -> None:
    argv = ("simulate", "--profile", morning, "--agents", "2", "--json", "--engine", "py")
    first = json.loads(run(capsys, *argv)[1])
    second = json.loads(run(capsys, *argv)[1])
    first.pop("timing")
    second.pop("timing")
    assert first == second


def test_simulate_prints_tables(capsys: pytest.CaptureFixture[str], morning: str) -> None:
    code, out, _ = run(capsys, "simulate", "--profile", morning, "--agents", "2")
    assert code == 0
    for text in ("answered by a person within 3 minutes", "most buyers open at once",
                 "By hour", "Agents", "first response", "gave up waiting", "a01", "a02"):
        assert text in out


# what a shop manager should not have to decode: rule numbers, the KPI code's terms
JARGON = re.compile(r"\bK\d\d\b|\bunits?\b|any-message|\bp90\b|\berlangs\b|hour 24",
                    re.IGNORECASE)


@pytest.fixture
def late(tmp_path: Path) -> str:
    """A CSV profile: a queue at 23:00-24:00, so chats are still open after midnight."""
    f = tmp_path / "late.csv"
    f.write_text("minute,arrivals\n" + "".join(f"{m},4\n" for m in range(1380, 1440)))
    return str(f)


def test_simulate_report_speaks_to_a_manager(capsys: pytest.CaptureFixture[str],
                                             late: str) -> None:
    code, out, _ = run(capsys, "simulate", "--profile", late, "--agents", "2", "--cap", "5",
                       "--engine", "py")
    assert code == 0
    assert JARGON.search(out) is None, JARGON.search(out)
    assert "90th percentile" in out and "median" in out
    assert "assumed model" in out  # satisfaction is drawn, not measured
    hours = [line.split()[0] for line in out.split("By hour")[1].split("Agents")[0].splitlines()
             if line.startswith("  ") and line.split()[0][:1].isdigit()]
    assert hours and all(h < "24" for h in hours), hours  # no "24:00" row ...
    assert "after 24:00" in out  # ... the chats still open after midnight are folded there


def test_simulate_report_explains_arrivals_against_buyers_judged(
        capsys: pytest.CaptureFixture[str], late: str) -> None:
    argv = ("simulate", "--profile", late, "--agents", "2", "--cap", "5", "--engine", "py",
            "--bot-share", "0.5", "--bot-resolve", "0.5")
    data = json.loads(run(capsys, *argv, "--json")[1])
    out = run(capsys, *argv)[1]

    def count(label: str) -> int:
        line = next(x for x in out.splitlines() if x.strip().startswith(label))
        return int(line[len(label) + line.index(label):].split()[0].replace(",", ""))

    assert count("arrived") == data["arrivals"]
    assert count("served by the bot alone") == data["bot_only"] > 0
    assert count("reached the queue for an agent") == data["sessions"]
    assert data["arrivals"] == data["bot_only"] + data["sessions"]
    assert count("gave up waiting before an agent took their chat") == data["abandoned"] > 0
    judged = data["shop_reply"]["met"] + data["shop_reply"]["missed"]
    assert count("judged for the reply rate on 2026-11-11") == judged
    outside = count("opened outside 08:00-23:00 or after midnight")
    assert outside == data["sessions"] - data["in_window"] > 0  # 23:00-24:00 is outside
    assert 0 <= data["abandoned_in_window"] <= data["in_window"]
    assert 0 <= data["abandoned_judged"] <= data["abandoned"]


def test_simulate_report_says_whether_buyers_who_gave_up_are_in_the_reply_rate(
        capsys: pytest.CaptureFixture[str], morning: str) -> None:
    argv = ("simulate", "--profile", morning, "--agents", "2", "--cap", "5", "--engine", "py")
    data = json.loads(run(capsys, *argv, "--json")[1])
    out = run(capsys, *argv)[1]
    assert data["abandoned_in_window"] > 0
    left_out = data["abandoned_in_window"] - data["abandoned_judged"]
    assert (f"{left_out:,} buyers gave up waiting in 08:00-23:00 and are not judged" in out) == (
        left_out > 0)
    judged = data["abandoned_judged"]
    assert (f"{judged:,} of the buyers who gave up waiting are judged" in out) == (judged > 0)


def test_staff_json_contract(capsys: pytest.CaptureFixture[str], morning: str) -> None:
    code, out, err = run(capsys, "staff", "--profile", morning, "--cap", "4", "--seeds", "2",
                         "--target", "0.8", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert set(data) >= STAFF_KEYS
    n = data["agents"]
    assert isinstance(n, int) and data["cap"] == 4
    assert data["reply_rate"] >= 0.8 and data["curve"][str(n)] == data["reply_rate"]
    if str(n - 1) in data["curve"]:
        assert data["curve"][str(n - 1)] is None or data["curve"][str(n - 1)] < 0.8
    assert data["seeds"] == [1, 2]


def test_staff_prints_the_answer_and_the_curve(capsys: pytest.CaptureFixture[str],
                                               morning: str) -> None:
    code, out, _ = run(capsys, "staff", "--profile", morning, "--cap", "4", "--seeds", "1")
    assert code == 0
    assert "answer:" in out and "verdict" in out and "simulated days in" in out
    assert JARGON.search(out) is None, JARGON.search(out)


def test_K14_staff_shows_the_erlang_a_guess_and_theory_beside_the_days(
        capsys: pytest.CaptureFixture[str], morning: str) -> None:
    code, out, _ = run(capsys, "staff", "--profile", morning, "--cap", "4", "--seeds", "2")
    assert code == 0
    assert "first guess from queueing theory" in out and "Erlang A" in out
    assert "Erlang C, which assumes nobody gives up" in out
    assert "queueing theory beside the simulated days" in out
    for row in ("buyers who had to wait for an agent", "buyers who gave up waiting",
                "mean wait for an agent", "taken by an agent within 3 minutes",
                "answered by a person within 3 minutes"):
        assert row in out
    data = json.loads(run(capsys, "staff", "--profile", morning, "--cap", "4", "--seeds", "2",
                          "--json")[1])
    theory = data["theory"]
    assert data["guess_model"] == "erlang_a" and theory["model"] == "erlang_a"
    assert f"{100 * theory['p_abandon']:.1f} %" in out
    assert f"{100 * theory['p_wait']:.1f} %" in out
    assert data["simulated"]["reply_rate"] == data["reply_rates"]


def test_staff_unreachable_target_exits_1(capsys: pytest.CaptureFixture[str],
                                          morning: str) -> None:
    code, out, _ = run(capsys, "staff", "--profile", morning, "--cap", "1", "--seeds", "1",
                       "--target", "0.99", "--max-agents", "1", "--json")
    assert code == 1
    assert json.loads(out)["agents"] is None


BAD = [
    (["simulate", "--agents", "0"], "--agents"),
    (["simulate", "--agents", "many"], "--agents"),
    (["simulate", "--cap", "501"], "--cap"),
    (["simulate", "--cap", "0"], "--cap"),
    (["simulate", "--peak", "-5"], "--peak"),
    (["simulate", "--peak", "nan"], "--peak"),
    (["simulate", "--strategy", "fastest"], "unknown strategy"),
    (["simulate", "--groups", "presale"], "NAME=SHARE"),
    (["simulate", "--groups", "a=1,b=1", "--agents", "1"], "cannot cover 2 groups"),
    (["simulate", "--shifts", "9-17"], "HH:MM-HH:MM"),
    (["simulate", "--handoff", "drop"], "--handoff"),
    (["simulate", "--profile", "/no/such/file.csv"], "cannot read profile"),
    (["simulate", "--rounds", "poisson:3"], "unknown distribution"),
    (["simulate", "--patience", "exp:-2"], ">= 0"),
    (["simulate", "--bot-share", "1.5"], "share between 0 and 1"),
    (["simulate", "--auto-close", "-1"], "--auto-close"),
    (["simulate", "--day", "11/11/2026"], "YYYY-MM-DD"),
    (["simulate", "--day", "0001-01-01"], "1971..9998"),
    (["simulate", "--tz", "Mars/Olympus"], "unknown timezone"),
    (["simulate", "--window", "23:00-08:00"], "--window"),
    (["simulate", "--threshold", "0"], "--threshold"),
    (["simulate", "--seed", "x"], "--seed"),
    (["simulate", "--plot", "/no/such/dir/day.png"], "does not exist"),
    (["simulate", "--plot", "day.txt"], ".png"),
    (["simulate", "--frobnicate"], "unrecognized arguments"),
    (["staff", "--target", "1.2"], "--target"),
    (["staff", "--target", "0"], "--target"),
    (["staff", "--seeds", "0"], "--seeds"),
    (["staff", "--min-agents", "9", "--max-agents", "3"], "--min-agents"),
    (["staff", "--max-abandon", "-0.1"], "--max-abandon"),
    (["staff", "--agents", "5"], "unrecognized arguments"),
    (["nonsense"], "invalid choice"),
    ([], "required"),
]


@pytest.mark.parametrize(("argv", "message"), BAD, ids=[" ".join(a) or "none" for a, _ in BAD])
def test_bad_options_exit_2_with_a_message(capsys: pytest.CaptureFixture[str], argv: list[str],
                                           message: str) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err and "error:" in err
    assert "Traceback" not in err and out == ""


def test_bad_option_in_a_real_process_has_no_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "kefu", "simulate", "--cap", "zero"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "argument --cap" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_plot_without_matplotlib_says_how_to_get_it(capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, _out, err = run(capsys, "simulate", "--plot", str(tmp_path / "day.png"))
    assert code == 2 and "pip install 'kefu[plot]'" in err and "Traceback" not in err


def test_plot_draws_the_day_when_matplotlib_is_there(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path, morning: str) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "day.png"
    code, _, err = run(capsys, "simulate", "--profile", morning, "--agents", "2", "--plot",
                       str(png))
    assert code == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("command", ["simulate", "staff"])
def test_help_documents_every_option_with_its_default(capsys: pytest.CaptureFixture[str],
                                                      command: str) -> None:
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    # argparse wraps help text; rejoin it, then every option's entry must state a default
    entries: list[str] = []
    for line in out.splitlines():
        if line.lstrip().startswith("-"):
            entries.append(line)
        elif entries and line.startswith(" " * 10):
            entries[-1] += " " + line.strip()
    options = [e for e in entries if not e.lstrip().startswith(("-h", "--help"))]
    assert len(options) > 20
    for entry in options:
        assert "(default:" in entry, entry


def test_demo_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "demo")
    assert code == 0 and "Queued(session_id='s3'" in out
    assert {"demo", "simulate", "staff"} <= set(COMMANDS)


def test_progress_bar_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    plain = io.StringIO()
    ProgressBar("x", plain)(0.5, 3600.0, 10)
    assert plain.getvalue() == ""
    tty = Tty()
    bar = ProgressBar("simulating", tty)
    bar(0.5, 12 * 3600.0, 1234)
    bar.clear()
    assert "simulating [" in tty.getvalue() and "12:00" in tty.getvalue()
    assert "1,234 sessions" in tty.getvalue()
    off = Tty()
    ProgressBar("x", off, enabled=False)(1.0, 0.0, 1)
    assert off.getvalue() == ""


@pytest.mark.soak
def test_the_issues_full_day_command_as_written() -> None:
    """The contract's own example: a 2000-buyer promotion day (about 100,000 sessions)."""
    proc = subprocess.run(
        [sys.executable, "-m", "kefu", "simulate", "--agents", "40", "--cap", "50", "--peak",
         "2000", "--seed", "1", "--json"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) >= SIMULATE_KEYS and len(data["agent_reply_rates"]) == 40
    assert 90_000 < data["sessions"] < 120_000
    assert 1800 < data["peak_concurrent"] < 2400


def test_plot_wiring_with_a_stand_in_matplotlib(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path, morning: str) -> None:
    """Where matplotlib is missing, a stand-in checks what the charts are given."""
    import types
    from unittest import mock

    saved: list[str] = []
    axes = [mock.MagicMock() for _ in range(3)]
    fig = mock.MagicMock()
    fig.savefig.side_effect = lambda path, **_: saved.append(str(path))
    pyplot = types.SimpleNamespace(
        subplots=lambda *a, **k: (fig, axes if a[:1] == (3,) else axes[0]),
        close=lambda *_: None,
    )
    mpl = types.SimpleNamespace(use=lambda *_: None)
    monkeypatch.setitem(sys.modules, "matplotlib", mpl)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", pyplot)
    day = tmp_path / "day.png"
    code, _, err = run(capsys, "simulate", "--profile", morning, "--agents", "2", "--plot",
                       str(day))
    assert code == 0, err
    curve = tmp_path / "staff.png"
    assert run(capsys, "staff", "--profile", morning, "--cap", "4", "--seeds", "1", "--plot",
               str(curve))[0] == 0
    assert saved == [str(day), str(curve)]
    minutes, concurrent = axes[0].plot.call_args_list[0].args[:2]
    assert len(minutes) == len(concurrent) > 60 and max(concurrent) > 0


def test_the_process_flushes_everything_before_its_fast_exit() -> None:
    """``python -m kefu`` ends without freeing its heap; what it printed is all there."""
    proc = subprocess.run([sys.executable, "-m", "kefu", "simulate", "--peak", "20",
                           "--agents", "1", "--json", "--no-progress"],
                          capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout)["sessions"] > 0
    bad = subprocess.run([sys.executable, "-m", "kefu", "simulate", "--peak", "-1"],
                         capture_output=True, text=True)
    assert bad.returncode == 2 and "--peak" in bad.stderr
