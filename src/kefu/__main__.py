"""Command line: ``kefu COMMAND`` or ``python -m kefu COMMAND``; one entry of :data:`COMMANDS` each.

``kefu --version`` prints the installed version (``kefu.__version__``).

A command is any object with ``configure(parser)`` to declare its options
and ``run(args) -> int`` to do the work. :data:`COMMANDS` maps each name to
its help line and a loader; only the command being run is loaded, so
``demo`` never imports the simulator (nor a broken one). To add a command,
write such an object and add one line to COMMANDS.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

__all__ = ["COMMANDS", "Command", "main", "script"]


class Command(Protocol):
    """What ``python -m kefu`` needs from a subcommand."""

    def configure(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


class DemoCommand:
    """``demo``: the quickstart scenario, printed step by step (kefu.demo)."""

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.description = "Walk through a cap being hit, a queue and a drain, event by event."

    def run(self, args: argparse.Namespace) -> int:
        from kefu import demo

        demo.run()
        return 0


def _simulate() -> Command:
    from kefu.sim.cli import SIMULATE

    return SIMULATE


def _staff() -> Command:
    from kefu.sim.cli import STAFF

    return STAFF


def _bench() -> Command:
    from kefu.bench import BenchCommand

    return BenchCommand()


#: name -> (help line, loader of the Command), in the order ``--help`` lists them.
COMMANDS: dict[str, tuple[str, Callable[[], Command]]] = {
    "demo": ("walk through a cap being hit, a queue and a drain", DemoCommand),
    "simulate": ("simulate a (promotion) day through the real Assigner and report the KPIs",
                 _simulate),
    "staff": ("find the fewest agents that keep the 3-minute reply rate above a target",
              _staff),
    "bench": ("compare the engines' speed and show every speed figure beside its goal",
              _bench),
}


def _chosen(argv: list[str]) -> str | None:
    """The command named on the line (the first word that is not an option), if any."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def _prog() -> str:
    """How the user called us: ``kefu`` (the console script) or ``python -m kefu``."""
    return "kefu" if Path(sys.argv[0]).stem == "kefu" else "python -m kefu"


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the command; returns the exit status (2 for bad options)."""
    from kefu._version import version

    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog=_prog(), description="kefu: route chat sessions to agents, measure KPIs."
    )
    parser.add_argument("--version", action="version", version=f"kefu {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    chosen = _chosen(argv)
    command: Command | None = None
    for name, (help_line, load) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_line)
        if name == chosen:
            command = load()
            command.configure(sub_parser)
    try:
        args = parser.parse_args(argv)
        assert command is not None  # parse_args exits unless a known command was named
        return command.run(args)
    except SystemExit as exc:  # argparse: --help (0) or a bad option (2), message printed
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)  # SystemExit("message"): say it, exit 1
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head: the reader has gone, nothing to say
        sys.stderr.close()
        return 0


def script() -> int:
    """The process entry of ``kefu`` and ``python -m kefu``: :func:`main` with the GC paused,
    and an exit that leaves the heap to the operating system.

    A short batch process that allocates millions of acyclic objects (events,
    records): the cyclic collector would rescan them for nothing, and freeing
    them one by one at exit takes a noticeable part of a second (a simulated
    peak day leaves some millions). Both are the process owner's calls, so
    they are made here, never in the library: the output is flushed, then the
    process ends at once (no kefu command leaves a file open or an exit hook).
    """
    gc.disable()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        # a reader that went away, or a stream already closed: nothing more to say
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(script())
