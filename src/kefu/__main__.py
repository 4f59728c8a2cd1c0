"""Command line: ``python -m kefu demo`` (``simulate``, ``staff`` and ``bench`` come later)."""

from __future__ import annotations

import argparse
import sys

from kefu import demo


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m kefu", description="kefu: route chat sessions to agents, measure KPIs."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("demo", help="walk through a cap being hit, a queue and a drain")
    args = parser.parse_args(argv)
    if args.command == "demo":
        demo.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
