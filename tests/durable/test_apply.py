"""DurableShop.apply: a batch behaves as on an Assigner, and every applied command is journaled.

The same random batches (valid and invalid commands, time moves, aborts) run
on a plain Assigner and on a durable shop: equal events, equal aborts (index,
cause and message, prefix events, time) and equal states; reopening the shop
recovers that state exactly (R21, R22, S05).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kefu import Assigner, Config, ManualClock
from kefu.durable import DurableShop, SQLiteStore
from kefu.errors import BatchAborted
from test_batch import AGENT_POOL, absolute_times, commands, configs, shops


def _outcomes(target: Any, batch: list[object]) -> list[Any]:
    """Apply ``batch``; after each abort go on after the failing command."""
    outcomes: list[Any] = []
    rest = batch
    while True:
        try:
            events = target.apply(rest)
        except BatchAborted as exc:
            outcomes.append(("aborted", exc.index, type(exc.cause), str(exc.cause), exc.events,
                             exc.at, target.snapshot()["state"]))
            rest = rest[exc.index + 1:]
            continue
        outcomes.append(("ok", events, target.snapshot()["state"], target.next_deadline()))
        return outcomes


@given(config=configs, shop=shops, generated=st.lists(commands, min_size=15, max_size=60))
def test_S05_R21_a_durable_batch_is_an_assigner_batch_and_recovers_exactly(
        config: dict[str, Any], shop: tuple[tuple[Any, ...], ...], generated: list[object]
) -> None:
    agents = [("add_agent", aid, *agent) for aid, agent in zip(AGENT_POOL, shop, strict=True)]
    batch = agents + absolute_times(generated)
    plain = Assigner(ManualClock(0.0), **config)
    expected = _outcomes(plain, batch)
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(Path(folder) / "shops.db", synchronous="NORMAL")
        durable = DurableShop.open(store, "s", ManualClock(0.0), config=Config(**config),
                                   snapshot_every=25)
        assert _outcomes(durable, batch) == expected
        state = durable.snapshot()["state"]
        durable._lease.release()  # a crash right after the last batch returned
        again = DurableShop.open(store, "s", ManualClock(0.0))
        assert again.snapshot()["state"] == state
        again.close()
        store.close()
