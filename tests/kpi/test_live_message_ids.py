"""K12 (and R23's one copy per message id): the compiled feed's messages by id.

A live tracker keeps one copy per message id, to find a repeated message as it
comes. The compiled feed keeps them in ``kefu.kpi._live_c.MessageIds``, a hash
table in C that behaves as the dict the reference feed keeps. A stateful test
drives one and a dict through the same random operations, the ids few enough
that they collide and are removed and set again, and after each step they must
agree: lengths, lookups, the order ids were first set, equality. Then trackers
fed repeats through both feeds must keep the same copies.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from kpi_helpers import tracker_on
from kpi_strategies import BASE

from kefu.kpi import Message, Sender, kernel


@pytest.fixture(autouse=True, scope="module")
def _need_compiled() -> None:
    if "c" not in kernel.AVAILABLE:
        pytest.skip("the compiled KPI kernel is not built here")


def _message_ids() -> Any:
    return importlib.import_module("kefu.kpi._live_c").MessageIds()


IDS = st.sampled_from([f"m{k}" for k in range(40)])


class MessageIdsAgainstADict(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.table = _message_ids()
        self.model: dict[str, object] = {}

    @rule(key=IDS, value=st.integers(0, 3))
    def set_one(self, key: str, value: int) -> None:
        self.table[key] = value
        self.model[key] = value

    @rule(key=IDS)
    def pop_one(self, key: str) -> None:
        assert self.table.pop(key, None) == self.model.pop(key, None)

    @rule(key=IDS)
    def delete_one(self, key: str) -> None:
        if key in self.model:
            del self.table[key]
            del self.model[key]
        else:
            with pytest.raises(KeyError):
                del self.table[key]
            with pytest.raises(KeyError):
                self.table.pop(key)

    @rule(key=IDS)
    def look_up(self, key: str) -> None:
        assert (key in self.table) == (key in self.model)
        assert self.table.get(key, "none") == self.model.get(key, "none")
        if key in self.model:
            assert self.table[key] == self.model[key]

    @invariant()
    def agrees(self) -> None:
        assert len(self.table) == len(self.model)
        assert list(self.table) == list(self.model)  # the order ids were first set
        assert list(reversed(self.table)) == list(reversed(self.model))
        assert self.table.items() == list(self.model.items())
        assert self.table == self.model and (self.table != self.model) is False


def test_K12_message_ids_behave_as_a_dict() -> None:
    run_state_machine_as_test(MessageIdsAgainstADict)


def test_K12_message_ids_keep_their_order_through_growing_and_removing() -> None:
    """Many ids (the table doubles several times), every third removed (holes in the
    order, squeezed out as it grows again), then set again (last): as a dict."""
    table, model = _message_ids(), {}
    for k in range(5_000):
        table[f"m{k}"] = model[f"m{k}"] = k
    for k in range(0, 5_000, 3):
        assert table.pop(f"m{k}") == model.pop(f"m{k}")
    for k in range(0, 5_000, 6):
        table[f"m{k}"] = model[f"m{k}"] = -k
    for k in range(5_000, 12_000):
        table[f"m{k}"] = model[f"m{k}"] = k
    assert list(table) == list(model) and table.values() == list(model.values())
    assert all(table[key] == value for key, value in model.items())


def test_K12_message_ids_find_every_id_after_growing_with_runs_round_the_end() -> None:
    """Ids whose homes all lie in the last sixteenth of the table, whatever its size
    (the low 20 bits of their hashes start with four ones): their probe runs wrap
    round its end into its first slots at every size, which is where doubling in
    place has to take care. Removed and set again between doublings; then every id
    is found, no removed one is, and the order is a dict's."""
    top = 0xF << 16
    ids = [key for key in (f"w{k}" for k in range(200_000))
           if hash(key) & top == top][:4_000]
    assert len(ids) == 4_000
    table, model = _message_ids(), {}
    for n, key in enumerate(ids):
        table[key] = model[key] = n
        if n % 7 == 3:
            gone = ids[n // 2]
            assert table.pop(gone, None) == model.pop(gone, None)
    assert len(table) == len(model)
    assert all(table[key] == value for key, value in model.items())
    assert not any(key in table for key in ids if key not in model)
    assert list(table) == list(model)


def test_K12_message_ids_take_str_ids_only() -> None:
    """A message id is an exact str: another key is refused when set and is never there
    (an unhashable one is a TypeError, as in a dict); a str subclass is looked up as
    its plain str."""

    class Id(str):
        def __hash__(self) -> int:  # never asked: the plain str's hash is used
            raise AssertionError("a subclass's hash ran")

    table = _message_ids()
    table["m1"] = "one"
    with pytest.raises(TypeError, match="a message id is a str"):
        table[1] = "x"
    with pytest.raises(TypeError, match="a message id is a str"):
        table[Id("m2")] = "x"
    assert table.get(1) is None and 1 not in table and table.pop(1, "none") == "none"
    with pytest.raises(TypeError, match="unhashable"):
        [] in table  # noqa: B015 - as a dict's lookup refuses it
    with pytest.raises(TypeError, match="unhashable"):
        table.get([])
    assert Id("m1") in table and table[Id("m1")] == "one"
    assert len(table) == 1 and dict(table.items()) == {"m1": "one"}


def _message(mid: str, sid: str, at: float) -> Message:
    return Message(session_id=sid, buyer_id="b1", at=BASE + at, sender=Sender.BUYER,
                   message_id=mid)


def test_K12_R23_both_feeds_keep_the_same_copy_of_a_repeated_message() -> None:
    """The same records, repeats and a copy that moves a message among them, through the
    compiled feed and the reference one: the same copies kept, the same figures."""
    records = [_message("m1", "s1", 10.0), _message("m2", "s1", 20.0),
               _message("m1", "s1", 10.0),  # a repeat: the same copy
               _message("m2", "s2", 5.0),  # an earlier copy moves m2 to s2
               _message("m3", "s2", 30.0)]
    reference, compiled = tracker_on("py"), tracker_on("c")
    assert type(compiled._kept).__name__ == "MessageIds"
    assert type(reference._kept) is dict
    for r in records:
        compiled.add(r)
        reference.add(r)
    assert compiled._kept == reference._kept and list(compiled._kept) == ["m1", "m2", "m3"]
    assert compiled._kept["m2"].session_id == "s2"
    assert compiled.shop(BASE + 60.0) == reference.shop(BASE + 60.0)
