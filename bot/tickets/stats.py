"""The complaint statistics: complaints per week by category and by region, the share closed
within the answer deadline, and the institutions with the most complaints.

Why figures here and drawing in the console: the statistics page's charts and its CSV export
show the same numbers (and a report or a CLI may want them without the web layer), so they are
computed once, from the tickets the viewer may see (`regions`; None for all). The window is the
last `weeks` weeks, China time, Monday first (core.clock), by the day a ticket was filed; the
deadline outcome of each ticket is bot.tickets.rules.deadline_outcome (办结 on or before its
answer_due), and the share counts the tickets already decided (closed, or open past their due
date), not those still within it.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta, timezone

from sqlmodel import Session, select

from bot.tickets.institutions import ROOT, group_ungrouped
from bot.tickets.rules import CATEGORIES, DEADLINE_OUTCOMES, deadline_outcome, local_today
from core import clock
from core.config import Settings
from storage.models import Institution, Ticket

WEEKS = 12
TOP = 10
MAX_SERIES = 8  # a chart's colours; further regions are summed as OTHER
OTHER = "其他地区"
DECIDED = ("on_time", "late", "overdue")


def _share(n: int, total: int) -> float:
    return round(100.0 * n / total, 1) if total else 0.0


def figures(session: Session, settings: Settings, regions: list[str] | None, weeks: int = WEEKS) -> dict:
    """{weeks: [YYYY-MM-DD Mondays], total, by_category / by_region: {series: [names], rows:
    [{week, counts: {name: n}}]}, deadline: [{key, label, count, share}], on_time_share,
    institutions: [{id, name, count}]}."""
    group_ungrouped(session)
    today = local_today(settings)
    first = clock.week_start(today) - timedelta(weeks=weeks - 1)
    labels = [(first + timedelta(weeks=i)).isoformat() for i in range(weeks)]
    since = datetime.combine(first, time(), clock.CHINA).astimezone(timezone.utc)
    query = (select(Ticket, ROOT).outerjoin(Institution, Ticket.institution_id == Institution.id)
             .where(Ticket.created_at >= since))
    if regions is not None:
        query = query.where(Ticket.region.in_(regions))
    by_category = {w: Counter() for w in labels}
    by_region = {w: Counter() for w in labels}
    deadline, institutions, region_totals = Counter(), Counter(), Counter()
    for ticket, root in session.exec(query).all():
        week = clock.week_start(ticket.created_at).isoformat()
        if week not in by_category:
            continue  # filed after a fixed POLICYBOT_TODAY
        by_category[week][ticket.category] += 1
        by_region[week][ticket.region] += 1
        region_totals[ticket.region] += 1
        deadline[deadline_outcome(ticket, today)] += 1
        if root is not None:
            institutions[root] += 1
    decided = sum(deadline[k] for k in DECIDED)
    top = institutions.most_common(TOP)
    names = dict(session.exec(select(Institution.id, Institution.name)
                              .where(Institution.id.in_([i for i, _n in top]))).all()) if top else {}
    return {
        "weeks": labels,
        "total": sum(region_totals.values()),
        "by_category": _series(by_category, _categories(by_category), labels),
        "by_region": _series(_fold_regions(by_region, region_totals), _region_series(region_totals), labels),
        "deadline": [{"key": k, "label": DEADLINE_OUTCOMES[k], "count": deadline[k],
                      "share": _share(deadline[k], decided) if k in DECIDED else None} for k in DEADLINE_OUTCOMES],
        "on_time_share": _share(deadline["on_time"], decided),
        "decided": decided,
        "institutions": [{"id": i, "name": names.get(i, ""), "count": n} for i, n in top],
    }


def _categories(per_week: dict[str, Counter]) -> list[str]:
    seen = {c for counts in per_week.values() for c in counts}
    return list(CATEGORIES) + sorted(seen - set(CATEGORIES))


def _region_series(totals: Counter) -> list[str]:
    kept = [r for r, _n in totals.most_common()]
    return kept if len(kept) <= MAX_SERIES else kept[: MAX_SERIES - 1] + [OTHER]


def _fold_regions(per_week: dict[str, Counter], totals: Counter) -> dict[str, Counter]:
    kept = set(_region_series(totals))
    out: dict[str, Counter] = {}
    for week, counts in per_week.items():
        out[week] = Counter()
        for region, n in counts.items():
            out[week][region if region in kept else OTHER] += n
    return out


def _series(per_week: dict[str, Counter], series: list[str], labels: list[str]) -> dict:
    return {"series": series, "rows": [{"week": w, "counts": {s: per_week[w][s] for s in series}} for w in labels]}


CSV_HEADER = ["图表", "项目", "分类", "数量", "占比(%)"]


def csv_rows(figs: dict) -> list[list]:
    """The page's figures, one row each: the weeks by category, by region, the deadline outcomes
    (shares of the decided tickets) and the institutions with the most complaints."""
    rows: list[list] = []
    for chart, key in (("每周投诉（按类别）", "by_category"), ("每周投诉（按地区）", "by_region")):
        for row in figs[key]["rows"]:
            total = sum(row["counts"].values())
            rows.append([chart, row["week"], "合计", total, ""])
            rows.extend([chart, row["week"], name, n, _share(n, total)] for name, n in row["counts"].items())
    rows.extend(["办结时限", d["label"], "", d["count"], "" if d["share"] is None else d["share"]]
                for d in figs["deadline"])
    rows.extend(["投诉最多的机构", i["name"], f"机构{i['id']}", i["count"], _share(i["count"], figs["total"])]
                for i in figs["institutions"])
    return rows
