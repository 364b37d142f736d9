"""A tiny condition language shared by form slots ("ask only if …") and eligibility rules.

Conditions are plain YAML data so a form or a rule never needs code to say when it applies:

    {fact: enterprise_size, in: [大型]}
    {all: [{fact: over_retirement_age, equals: true}, {fact: receives_pension, equals: false}]}
    {fact: hire_date, after: "2021-12-31"}          # ISO dates compare as dates
    {fact: region, within: [山东]}                   # region paths compare by prefix
    {fact: job_registration, missing: true}

A fact that is absent makes every comparison false (only `missing` looks at absence), so a
rule about a question that was skipped simply does not fire.

Why it imports nothing of forms: slots, rules and the data checks all evaluate or inspect
conditions, so this module stays at the bottom (regions compare with core.regions' `within`).
"""
from __future__ import annotations

from datetime import date
from typing import Any, Callable

from core.regions import within


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
    "within": lambda v, a: any(within(v, s) for s in a),
    "not_within": lambda v, a: not any(within(v, s) for s in a),
}
GROUPS = ("all", "any", "not")


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


def problems(cond: Any) -> list[str]:
    """What is wrong with a condition's shape (empty: nothing); for the data checks."""
    if cond is None:
        return []
    if not isinstance(cond, dict):
        return [f"a condition must be a mapping, not {cond!r}"]
    groups = [g for g in GROUPS if g in cond]
    if groups:
        if len(cond) != 1:
            return [f"'{groups[0]}' must stand alone in its condition: {cond}"]
        inner = cond[groups[0]]
        if groups[0] == "not":
            return problems(inner)
        if not isinstance(inner, list) or not inner:
            return [f"'{groups[0]}' takes a list of conditions: {cond}"]
        return [p for c in inner for p in problems(c)]
    if not isinstance(cond.get("fact"), str):
        return [f"a condition names a fact (or all / any / not): {cond}"]
    ops = [k for k in cond if k != "fact"]
    if not ops:
        return [f"condition without operator: {cond}"]
    return [f"unknown operator {op!r} in {cond} (known: missing, {', '.join(OPS)})"
            for op in ops if op not in OPS and op != "missing"]


def facts(cond: Any) -> set[str]:
    """Every fact a condition reads."""
    if not isinstance(cond, dict):
        return set()
    found = {cond["fact"]} if isinstance(cond.get("fact"), str) else set()
    for group in GROUPS:
        inner = cond.get(group)
        for c in inner if isinstance(inner, list) else [inner]:
            found |= facts(c)
    return found
