"""A tiny condition language shared by form slots ("ask only if …") and eligibility rules.

Conditions are plain YAML data so a form or a rule never needs code to say when it applies:

    {fact: enterprise_size, in: [大型]}
    {all: [{fact: over_retirement_age, equals: true}, {fact: receives_pension, equals: false}]}
    {fact: hire_date, after: "2021-12-31"}          # ISO dates compare as dates
    {fact: region, within: [山东]}                   # region paths compare by prefix
    {fact: job_registration, missing: true}

A fact that is absent makes every comparison false (only `missing` looks at absence), so a
rule about a question that was skipped simply does not fire.
"""
from __future__ import annotations

from datetime import date
from typing import Any, Callable

from forms import regions


def _as_date(v: Any) -> date | None:
    if isinstance(v, date):
        return v
    try:
        return date.fromisoformat(str(v))
    except ValueError:
        return None


def _cmp_dates(op: Callable[[date, date], bool]):
    def run(value, arg):
        a, b = _as_date(value), _as_date(arg)
        return a is not None and b is not None and op(a, b)
    return run


OPS: dict[str, Callable[[Any, Any], bool]] = {
    "equals": lambda v, a: v == a,
    "not_equals": lambda v, a: v != a,
    "in": lambda v, a: v in a,
    "not_in": lambda v, a: v not in a,
    "gte": lambda v, a: isinstance(v, (int, float)) and v >= a,
    "gt": lambda v, a: isinstance(v, (int, float)) and v > a,
    "lte": lambda v, a: isinstance(v, (int, float)) and v <= a,
    "lt": lambda v, a: isinstance(v, (int, float)) and v < a,
    "before": _cmp_dates(lambda x, y: x < y),
    "after": _cmp_dates(lambda x, y: x > y),
    "on_or_after": _cmp_dates(lambda x, y: x >= y),
    "on_or_before": _cmp_dates(lambda x, y: x <= y),
    "within": lambda v, a: regions.covered(v, list(a)),
    "not_within": lambda v, a: not regions.covered(v, list(a)),
}


def holds(cond: dict | None, facts: dict[str, Any]) -> bool:
    """Evaluate a condition against the facts; no condition means 'always'."""
    if not cond:
        return True
    if "all" in cond:
        return all(holds(c, facts) for c in cond["all"])
    if "any" in cond:
        return any(holds(c, facts) for c in cond["any"])
    if "not" in cond:
        return not holds(cond["not"], facts)
    name = cond["fact"]
    present = facts.get(name) is not None
    if "missing" in cond:
        return (not present) == bool(cond["missing"])
    if not present:
        return False
    ops = [k for k in cond if k != "fact"]
    if not ops:
        raise ValueError(f"condition without operator: {cond}")
    return all(OPS[op](facts[name], cond[op]) for op in ops)
