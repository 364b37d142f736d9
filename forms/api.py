"""POST /api/check/enterprise-yigong and /api/check/trainee-subsidy: eligibility from facts.

Thin routes over forms.checks — the same rule evaluation the chat forms use. The bodies are the
models of forms/facts.py, so FastAPI checks them and /openapi.json describes them; missing or
malformed facts → 422 {"detail": "<Chinese message naming the field>", "field": name} from the
app's one validation handler. An unknown check name is a 404 that lists the real ones.
"""
from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from core import clock
from forms import checks
from forms.facts import TraineeFacts, YigongFacts
from knowledge.types import Source

router = APIRouter()


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


async def _verdict(request: Request, evaluate, body: YigongFacts | TraineeFacts) -> dict:
    facts, labels = body.facts()
    today: date = clock.today(request.app.state.settings)
    verdict = await run_in_threadpool(evaluate, facts, labels, request.app.state.kb, today)
    return verdict.public()


@router.post("/api/check/enterprise-yigong", response_model=CheckResult)
async def check_yigong(body: YigongFacts, request: Request):
    """以工代训：企业是否符合条件、可补多少、到哪里申请。"""
    return await _verdict(request, checks.check_yigong, body)


@router.post("/api/check/trainee-subsidy", response_model=CheckResult)
async def check_trainee(body: TraineeFacts, request: Request):
    """职业培训补贴：学员是否符合条件，每条理由附政策原文。"""
    return await _verdict(request, checks.check_trainee, body)


KNOWN = ("enterprise-yigong", "trainee-subsidy")


@router.post("/api/check/{form}", include_in_schema=False)
async def unknown_check(form: str):
    return JSONResponse({"detail": f"没有这个自测：{form}（可用：{'、'.join(KNOWN)}）", "field": "form"},
                        status_code=404)
