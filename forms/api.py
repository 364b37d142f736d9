"""POST /api/check/enterprise-yigong and /api/check/trainee-subsidy: eligibility from facts.

Thin routes over forms.checks — the same validation and rule evaluation the chat forms use.
Missing or malformed facts → 422 {"detail": "<Chinese message naming the field>", "field": name}.
"""
from __future__ import annotations

import json
from datetime import date

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from core import clock
from forms import checks
from knowledge.types import Source

router = APIRouter()

MAX_BODY = 64 * 1024
ROUTES = {
    "enterprise-yigong": (checks.validate_yigong, checks.check_yigong),
    "trainee-subsidy": (checks.validate_trainee, checks.check_trainee),
}


class CheckReason(BaseModel):
    model_config = ConfigDict(extra="allow")
    text: str
    sources: list[Source] = []


class CheckResult(BaseModel):
    """The verdict: its outcome, each reason with the clause it rests on, and the form's figures
    (amounts, apply_to …) beside them."""
    model_config = ConfigDict(extra="allow")
    outcome: str
    reasons: list[CheckReason]


def _error(field: str, message: str, status: int = 422) -> JSONResponse:
    return JSONResponse({"detail": message, "field": field}, status_code=status)


def _today(request: Request) -> date:
    return clock.today(request.app.state.settings)


@router.post("/api/check/{form}", response_model=CheckResult)
async def check(form: str, request: Request):
    if form not in ROUTES:
        return _error("form", f"没有这个自测：{form}（可用：{'、'.join(ROUTES)}）", 404)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _error("body", "请求体太大", 413)
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        return _error("body", "请求体不是合法的 JSON")
    validate, evaluate = ROUTES[form]
    try:
        facts, labels = validate(body)
    except checks.FactError as bad:
        return _error(bad.field, bad.message)
    verdict = await run_in_threadpool(evaluate, facts, labels, request.app.state.kb, _today(request))
    return verdict.public()
