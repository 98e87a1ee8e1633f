"""`@record` behaves as `@dataclass` does for everything pyrule uses: dataclasses is the oracle."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from pyrule.record import FrozenInstanceError, field, record

OPTIONS = [{}, {"frozen": True}, {"slots": True}, {"eq": False}, {"eq": False, "slots": True}, {"frozen": True, "slots": True}]


def make(decorate, fieldf, **options):
    @decorate(**options)
    class Point:
        x: int
        y: int = 0
        tags: list = fieldf(default_factory=list)
        note: str = fieldf(default="n", repr=False, compare=False)

    return Point


def pair(**options):
    return make(record, field, **options), make(dataclasses.dataclass, dataclasses.field, **options)


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_a_record_constructs_shows_and_compares_as_a_dataclass_does(options):
    R, D = pair(**options)
    for args, kwargs in [((1,), {}), ((1, 2), {}), ((1,), {"tags": [3], "note": "m"}), ((), {"x": 5, "y": 6})]:
        r, d = R(*args, **kwargs), D(*args, **kwargs)
        assert repr(r) == repr(d)
        assert (r.x, r.y, r.tags, r.note) == (d.x, d.y, d.tags, d.note)
    assert (R(1) == R(1, note="other")) == (D(1) == D(1, note="other"))
    assert (R(1) == R(2)) == (D(1) == D(2))
    assert R(1).__eq__(1) is NotImplemented or not options.get("eq", True)
    assert R.__match_args__ == D.__match_args__ == ("x", "y", "tags", "note")
    with pytest.raises(TypeError):
        R()  # x has no default
    with pytest.raises(TypeError):
        R(1, 2, [], "n", "extra")


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_a_record_is_hashable_exactly_when_a_dataclass_is(options):
    R, D = pair(**options)
    assert (R.__hash__ is None) == (D.__hash__ is None)
    if R.__hash__ is not None and options.get("frozen"):
        assert hash(R(1, 2, ())) == hash(R(1, 2, (), note="ignored")) == hash(D(1, 2, ()))


def test_a_default_factory_makes_a_new_value_for_every_instance():
    R, _ = pair()
    a, b = R(1), R(2)
    a.tags.append("t")
    assert b.tags == [] and R(3).tags == []


@pytest.mark.parametrize("slots", [False, True])
def test_a_frozen_record_refuses_assignment_and_deletion(slots):
    R, _ = pair(frozen=True, slots=slots)
    p = R(1)
    with pytest.raises(FrozenInstanceError):
        p.x = 2
    with pytest.raises(AttributeError):  # FrozenInstanceError is an AttributeError, as with dataclasses
        del p.y
    assert p.x == 1


def test_slots_leave_no_instance_dict_and_keep_defaults_out_of_the_class():
    R, D = pair(slots=True)
    assert not hasattr(R(1), "__dict__") and R.__slots__ == D.__slots__
    assert R(1).y == 0 and R(1).note == "n"


def test_plain_defaults_stay_class_attributes_as_with_dataclasses():
    R, D = pair()
    assert R.y == D.y == 0 and R.note == D.note == "n"
    assert "tags" not in R.__dict__ and "tags" not in D.__dict__


@pytest.mark.parametrize("options", OPTIONS, ids=str)
def test_records_survive_pickling(options):
    R, _ = pair(**options)
    globals()["Point"] = R  # pickle finds classes by module and name
    R.__qualname__ = "Point"
    try:
        p = pickle.loads(pickle.dumps(R(1, 2, [3], "m")))
    finally:
        del globals()["Point"]
    assert (p.x, p.y, p.tags, p.note) == (1, 2, [3], "m")


def test_methods_the_class_defines_itself_are_kept():
    @record(eq=False, slots=True)
    class Job:
        name: str

        def __repr__(self) -> str:
            return f"Job({self.name})"

    assert repr(Job("a")) == "Job(a)"
    assert Job("a") != Job("a")  # eq=False: identity, as pyrule's Job needs
    assert len({Job("a"), Job("a")}) == 2
