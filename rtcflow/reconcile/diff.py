"""The diff between running and desired flows: a plain value from a pure function.

Modelled on Vector's topology ``ConfigDiff``: components are compared by name and
digest, the result says what to add, remove and change, and ``flip()`` gives the diff
that undoes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from rtcflow.reconcile.digest import FlowDigests


@dataclass(frozen=True)
class ComponentDiff:
    """Names of added, removed and changed components of one kind."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    @classmethod
    def between(
        cls, old: tuple[tuple[str, str], ...], new: tuple[tuple[str, str], ...]
    ) -> ComponentDiff:
        before, after = dict(old), dict(new)
        return cls(
            added=tuple(n for n in after if n not in before),
            removed=tuple(n for n in before if n not in after),
            changed=tuple(n for n in after if n in before and before[n] != after[n]),
        )

    def flip(self) -> ComponentDiff:
        return ComponentDiff(added=self.removed, removed=self.added, changed=self.changed)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(frozen=True)
class FlowDiff:
    """How one flow changes. ``restart`` means the whole graph must be rebuilt."""

    name: str
    restart: bool = False
    source: bool = False
    steps: ComponentDiff = ComponentDiff()
    reordered: bool = False
    sinks: ComponentDiff = ComponentDiff()
    timeline: bool = False  # edited: applied in place, the origin kept
    timeline_restart: bool = False  # restart token changed: the timeline starts over

    @property
    def chain_changed(self) -> bool:
        return bool(self.steps) or self.reordered

    def flip(self) -> FlowDiff:
        return replace(self, steps=self.steps.flip(), sinks=self.sinks.flip())

    def describe(self) -> list[str]:
        if self.restart:
            return [f"~ flow {self.name}: restart (video or flow settings changed)"]
        lines = []
        if self.source:
            lines.append(f"~ flow {self.name}: source changed")
        for kind, diff in (("step", self.steps), ("sink", self.sinks)):
            lines += [f"+ flow {self.name}: {kind} {n}" for n in diff.added]
            lines += [f"- flow {self.name}: {kind} {n}" for n in diff.removed]
            lines += [f"~ flow {self.name}: {kind} {n} changed" for n in diff.changed]
        if self.reordered:
            lines.append(f"~ flow {self.name}: steps reordered")
        if self.timeline_restart:
            lines.append(f"~ flow {self.name}: timeline restarted")
        elif self.timeline:
            lines.append(f"~ flow {self.name}: timeline changed (origin kept)")
        return lines


def diff_flow(name: str, old: FlowDigests, new: FlowDigests) -> FlowDiff | None:
    """The component diff of one flow, or ``None`` when nothing changed."""
    if old == new:
        return None
    if old.video != new.video or old.settings != new.settings:
        return FlowDiff(name, restart=True)
    steps = ComponentDiff.between(old.steps, new.steps)
    kept_old = [n for n, _ in old.steps if n in dict(new.steps)]
    kept_new = [n for n, _ in new.steps if n in dict(old.steps)]
    return FlowDiff(
        name,
        source=old.source != new.source,
        steps=steps,
        reordered=kept_old != kept_new,
        sinks=ComponentDiff.between(old.sinks, new.sinks),
        timeline=old.timeline != new.timeline,
        timeline_restart=old.timeline_restart != new.timeline_restart,
    )


@dataclass(frozen=True)
class Diff:
    """Flows to add, remove and change to go from running to desired."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[FlowDiff, ...] = ()

    def flip(self) -> Diff:
        return Diff(
            added=self.removed,
            removed=self.added,
            changed=tuple(c.flip() for c in self.changed),
        )

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def describe(self) -> str:
        lines = [f"+ flow {n}" for n in self.added] + [f"- flow {n}" for n in self.removed]
        for change in self.changed:
            lines += change.describe()
        return "\n".join(lines) if lines else "no changes"


def diff(running: Mapping[str, FlowDigests], desired: Mapping[str, FlowDigests]) -> Diff:
    """Compare running and desired flows by name and component digests."""
    changed = []
    for name in desired:
        if name in running and (d := diff_flow(name, running[name], desired[name])):
            changed.append(d)
    return Diff(
        added=tuple(n for n in desired if n not in running),
        removed=tuple(n for n in running if n not in desired),
        changed=tuple(changed),
    )
