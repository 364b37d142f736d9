"""/console/stats and /console/stats.csv: the complaint statistics — complaints per week by
category and by region, the share closed within the deadline, the institutions with the most
complaints — as server-drawn SVG (bot.console.charts) and as CSV, the same figures both
(bot.tickets.stats computes them).

Why its own module: the page changes with what supervisors report, not with the queue or one
ticket. Supervisors and admins see every region; staff see theirs (the figures say so).
"""
from __future__ import annotations

from fastapi import APIRouter, Request

from bot.console import charts
from bot.console.deps import DbSession, PageLogin, SettingsDep, StaffLogin
from bot.console.pages import ConsoleRoute, csv_response, render
from bot.tickets import stats

router = APIRouter(prefix="/console", route_class=ConsoleRoute)


def _weekly(block: dict, label: str):
    rows = [(row["week"][5:], row["counts"]) for row in block["rows"]]
    return charts.stacked_rows(rows, charts.palette(block["series"]), label)


@router.get("/stats")
def stats_page(request: Request, login: PageLogin, settings: SettingsDep, s: DbSession):
    figs = stats.figures(s, settings, login.visible_regions)
    decided = [(d["key"], d["label"], d["count"], d["share"]) for d in figs["deadline"] if d["share"] is not None]
    svg = {
        "category": _weekly(figs["by_category"], "每周投诉（按类别）"),
        "region": _weekly(figs["by_region"], "每周投诉（按地区）"),
        "deadline": charts.share_bar(decided, "办结时限"),
        "institutions": charts.bars([(i["name"], i["count"]) for i in figs["institutions"]], "投诉最多的机构"),
    }
    return render(request, "stats.html", login, figs=figs, svg=svg, weeks=stats.WEEKS,
                  regions=login.visible_regions)


@router.get("/stats.csv")
def stats_csv(login: StaffLogin, settings: SettingsDep, s: DbSession):
    figs = stats.figures(s, settings, login.visible_regions)
    return csv_response(stats.CSV_HEADER, stats.csv_rows(figs), "complaint-stats.csv")
