"""The diff is a pure function of two digest maps; flip() undoes it."""

from rtcflow.reconcile.diff import ComponentDiff, Diff, diff
from rtcflow.reconcile.digest import FlowDigests


def digests(**overrides) -> FlowDigests:
    base = dict(
        video="v1",
        source="s1",
        steps=(("fx", "a"), ("dream", "b")),
        sinks=(("record", "r"), ("preview", "p")),
        settings="x",
    )
    base.update(overrides)
    return FlowDigests(**base)


def test_identical_flows_have_empty_diff():
    assert not diff({"show": digests()}, {"show": digests()})
    assert diff({"show": digests()}, {"show": digests()}).describe() == "no changes"


def test_added_and_removed_flows():
    change = diff({"old": digests()}, {"new": digests()})
    assert change.added == ("new",) and change.removed == ("old",) and not change.changed


def test_component_changes_are_named():
    new = digests(
        source="s2",
        steps=(("fx", "a2"), ("dream", "b")),
        sinks=(("record", "r"), ("gateway", "g")),
    )
    (flow,) = diff({"show": digests()}, {"show": new}).changed
    assert flow.source and not flow.restart and not flow.reordered
    assert flow.steps == ComponentDiff(changed=("fx",))
    assert flow.sinks == ComponentDiff(added=("gateway",), removed=("preview",))
    assert "+ flow show: sink gateway" in flow.describe()


def test_video_change_restarts_the_flow():
    (flow,) = diff({"show": digests()}, {"show": digests(video="v2")}).changed
    assert flow.restart


def test_reordered_steps_change_the_chain():
    (flow,) = diff(
        {"show": digests()}, {"show": digests(steps=(("dream", "b"), ("fx", "a")))}
    ).changed
    assert flow.reordered and flow.chain_changed and not flow.steps


def test_flip_undoes():
    old, new = (
        {"a": digests(), "b": digests()},
        {
            "b": digests(sinks=(("record", "r"),)),
            "c": digests(),
        },
    )
    forward = diff(old, new)
    assert forward.flip() == Diff(
        added=("a",), removed=("c",), changed=(diff(new, old).changed[0],)
    )
    assert forward.flip().flip() == forward
