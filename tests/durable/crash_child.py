"""A writer that a crash test kills: drives a durable shop through the workload stream.

Usage: ``python crash_child.py TARGET SEED N START`` (TARGET as ``open_store``
takes it). It opens (recovers) the shop, then runs commands START.. in
acknowledgement units and, after each unit's call or flush returns, prints
the number of commands acknowledged so far. The parent kills it with SIGKILL at a random moment.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from workload import CONFIG, run, stream, units

from kefu import Config, ManualClock
from kefu.durable import DurableShop, open_store


def main() -> None:
    target, seed, n, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    commands = stream(seed, n)
    clock = ManualClock(commands[start][0])
    shop = DurableShop.open(open_store(target), "crash", clock, config=Config(**CONFIG),
                            snapshot_every=500)
    print(f"open {start}", flush=True)
    i = start
    for end in units(seed, n):
        if end <= start:
            continue
        if end - i == 1:
            clock.set(commands[i][0])
            run(getattr(shop, commands[i][1]), commands[i])
        else:
            for j in range(i, end):
                clock.set(commands[j][0])
                method = commands[j][1]
                run(lambda *a, _m=method, **k: shop.submit(_m, *a, **k), commands[j])
            shop.flush()
        i = end
        print(i, flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main()
