"""/console/unanswered and /console/insights: the admins' side of the question loop.

The unanswered list is GET /api/unanswered's data; an item opens to its phrasings, the clauses
the search finds nearest (to link with one click), and the forms for a standard answer citing
clauses and for "out of scope" with a pointer; the taught answers are listed with a remove
button. The insights page ("What followers ask") shows the question log's figures
(knowledge/insights.py) as server-drawn SVG (bot/console/charts.py) and exports them as CSV.

Why apart from bot.console.admin: these pages change with the teaching loop, not with accounts
or uploads; both stand on bot.console.pages (login, CSRF, roles, error pages). Admins only.
"""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, RedirectResponse

from bot.console import charts
from core.clock import CHINA
from bot.console.deps import AdminLogin, AdminPage, CheckedForm, settings_of
from bot.console.pages import ConsoleError, ConsoleRoute, csv_response, db_id, render
from knowledge import insights
from knowledge.answer import readable
from knowledge.taught import ACTION_LABELS, TeachError
from knowledge.unanswered import KIND_LABELS

log = logging.getLogger("policybot.console")

router = APIRouter(prefix="/console", route_class=ConsoleRoute)
STYLESHEET = Path(__file__).parent / "static" / "unanswered.css"
SUGGESTED = 3
DEFAULT_POINTER = "请拨打12333人社服务热线咨询。"
DONE = {"link": "已关联条款", "answer": "已保存标准答复", "dismiss": "已标记为不在范围", "removed": "已删除该答案"}


def _local(iso: str) -> str:
    """An ISO time (UTC) as China time, as the other console pages show times."""
    try:
        return datetime.fromisoformat(iso).astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError):
        return ""


def _shown(rows: list[dict], key: str) -> list[dict]:
    return [{**row, "when": _local(row.get(key, ""))} for row in rows]


def _kb(request: Request):
    return request.app.state.kb


@router.get("/static/unanswered.css")
def stylesheet():
    return FileResponse(STYLESHEET, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})


# ---------------------------------------------------------------- the unanswered list

@router.get("/unanswered")
def unanswered_page(request: Request, login: AdminPage, done: str = ""):
    kb = _kb(request)
    return render(request, "unanswered.html", login, items=_shown(kb.questions.items(), "last_asked"),
                  taught=_shown(kb.taught.items(), "created_at"),
                  kind_labels=KIND_LABELS, action_labels=ACTION_LABELS, notice=DONE.get(done, ""))


@router.get("/unanswered/{item_id}")
def unanswered_item(request: Request, item_id: int, login: AdminPage):
    return _item_page(request, login, db_id(item_id, "没有这个未解答问题"))


def _item_page(request: Request, login, item_id: int, error: str = "", status: int = 200, form: dict | None = None):
    kb = _kb(request)
    item = kb.questions.get(item_id)
    if item is None:
        raise ConsoleError(404, "没有这个未解答问题")
    return render(request, "unanswered_item.html", login, status=status, item=_shown([item], "last_asked")[0], error=error,
                  suggestions=_suggestions(kb, item["question"]), kind_labels=KIND_LABELS,
                  form=form or {}, default_pointer=DEFAULT_POINTER)


def _suggestions(kb, question: str) -> list[dict]:
    """The clauses the search puts nearest the question (the admin may link one)."""
    if not kb.ready:
        return []
    try:
        _query, hits = kb.retrieve(question, k=SUGGESTED)
    except Exception:
        log.exception("console: suggestions failed")
        return []
    return [{"id": h.chunk.id, "title": h.notice.title or h.notice.file, "region": h.notice.region or "",
             "heading": h.chunk.heading_path, "excerpt": _short(readable(h.chunk.text))} for h in hits[:SUGGESTED]]


def _short(text: str, chars: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


def _chunk_ids(raw: str) -> list[int]:
    parts = [p for p in raw.replace("，", ",").replace("、", ",").replace(" ", ",").split(",") if p]
    if not all(p.isascii() and p.isdigit() and len(p) <= 9 for p in parts):
        raise TeachError(422, "条款编号只能是数字，多个编号用逗号分隔")
    return [int(p) for p in parts]


@router.post("/unanswered/{item_id}/{action}")
def teach(request: Request, item_id: int, action: str, login: AdminLogin, form: CheckedForm):
    if action not in ("link", "answer", "dismiss"):
        raise ConsoleError(404, "没有这个操作")
    item_id = db_id(item_id, "没有这个未解答问题")
    taught = _kb(request).taught
    fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    by = login.user.username
    try:
        if action == "link":
            ids = _chunk_ids(fields.get("chunk_id", "").strip())
            if len(ids) != 1:
                raise TeachError(422, "请选择或填写一条条款")
            taught.link(item_id, ids[0], by)
        elif action == "answer":
            taught.answer(item_id, fields.get("text", ""), _chunk_ids(fields.get("chunk_ids", "")), by)
        else:
            taught.dismiss(item_id, fields.get("pointer", ""), by)
    except TeachError as exc:
        if exc.status == 404:
            raise ConsoleError(404, exc.message)
        return _item_page(request, login, item_id, error=exc.message, status=400, form=fields)
    log.info("console: %s taught unanswered item %s (%s)", by, item_id, action)
    return RedirectResponse(f"/console/unanswered?done={action}", status_code=303)


@router.post("/taught/{taught_id}/delete")
def remove_taught(request: Request, taught_id: int, login: AdminLogin, _csrf: CheckedForm):
    if not _kb(request).taught.remove(db_id(taught_id, "没有这条已教答案")):
        raise ConsoleError(404, "没有这条已教答案")
    log.info("console: %s removed taught answer %s", login.user.username, taught_id)
    return RedirectResponse("/console/unanswered?done=removed", status_code=303)


# ---------------------------------------------------------------- what followers ask

def _weeks(raw: str) -> int:
    if not raw:
        return 12
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= insights.MAX_WEEKS:
        raise ConsoleError(400, f"周数只能是 1 到 {insights.MAX_WEEKS} 之间的整数")
    return int(raw)


@router.get("/insights")
def insights_page(request: Request, login: AdminPage, weeks: str = ""):
    n = _weeks(weeks.strip())
    figs = insights.figures(settings_of(request), n)
    series = [(o, insights.OUTCOME_LABELS[o], charts.COLOURS[o]) for o in insights.OUTCOMES]
    svg = {
        "weeks": charts.stacked_rows([(w["week"][5:], {o: w[o] for o in insights.OUTCOMES}) for w in figs["weeks"]],
                                    series, "每周提问数"),
        "outcomes": charts.share_bar([(o["outcome"], o["label"], o["count"], o["share"]) for o in figs["outcomes"]],
                                     "回答情况"),
        "topics": charts.bars([(t["label"], t["count"]) for t in figs["topics"]], "热门话题"),
        "regions": charts.bars([(t["label"], t["count"]) for t in figs["regions"]], "提问地区", "#00796b"),
        "notices": charts.bars([(t["label"], t["count"]) for t in figs["notices"]], "引用最多的通知", "#5d4037"),
    }
    return render(request, "insights.html", login, figs=figs, svg=svg, weeks=n, max_weeks=insights.MAX_WEEKS)


@router.get("/insights.csv")
def insights_csv(request: Request, login: AdminLogin, weeks: str = ""):
    figs = insights.figures(settings_of(request), _weeks(weeks.strip()))
    return csv_response(insights.CSV_HEADER, insights.csv_rows(figs), "insights.csv")
