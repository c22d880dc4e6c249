"""The timeline package's exception hierarchy."""

from __future__ import annotations


class TimelineError(Exception):
    """A timeline cannot be evaluated as asked (missing origin, time going backwards, …).

    Problems in the spec itself are pydantic ``ValidationError``s raised while loading it,
    and problems with targets are reported by ``check_targets``.
    """
