"""The facts of each eligibility check as pydantic models: the request bodies of /api/check/*.

Why models rather than the hand parsing that was here before: the body's shape (types, ranges,
which facts are required) is declared once, FastAPI checks it before the route runs, and
/openapi.json advertises it, so another system can build a valid request from the schema alone.
Each field's `title` is its Chinese name; bot/web.py's 422 handler puts it in the message
("缺少新吸纳时间（字段 hire_date）"). What a schema cannot say — a choice picked by word from the
shared sets in rules/choices.yaml, a region spelt any way — the validators and `facts()` decide
with the same matcher the chat forms use (forms.choices.match_choice), so chat and API agree.

`facts()` returns (facts, labels): the values the rules read and the words a verdict shows.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Optional

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StrictBool, StringConstraints, field_validator

from core.text import cn_date
from forms import regions
from forms.choices import choice_sets, match_choice

Text = Annotated[str, Strict(), StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Count = Annotated[int, Strict()]


def _day_text(value: Any) -> Any:
    if not isinstance(value, (str, date)):  # lax pydantic would read a number as Unix seconds
        raise ValueError("必须是 YYYY-MM-DD 格式的日期")
    return value


Day = Annotated[date, BeforeValidator(_day_text)]


def _shown_values(set_name: str) -> list[str]:
    return [c["value"] for c in choice_sets()[set_name] if not c.get("hidden")]


def _choice_schema(set_name: str):
    """json_schema_extra for a closed choice: its values as the advertised enum (read from the
    data when the schema is built, so choices.yaml stays the one list). The validator is kinder
    than the enum: a label or an everyday word of a choice is taken too."""
    def extra(schema: dict[str, Any]) -> None:
        schema["enum"] = _shown_values(set_name)
    return extra


def _picked(text: str, set_name: str) -> tuple[str, str] | None:
    """(value, label) of the choice a word names, or None."""
    choice = match_choice(text, choice_sets()[set_name], digits=False)
    if choice is None:
        return None
    label = choice["label"] if text in (choice["value"], choice["label"]) else f"{choice['label']}（{text}）"
    return choice["value"], label


def _open_choice(text: str, set_name: str) -> tuple[str, str]:
    """A word of an open set (ownership, certificate): the choice it names, or kept as typed."""
    return _picked(text, set_name) or (text, text)


class _Facts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    region: Text = Field(title="地区", description="如：山东 聊城、济源", examples=["山东 聊城"])

    def _region(self) -> tuple[str, str]:
        return regions.canonical(self.region) or self.region, self.region


class YigongFacts(_Facts):
    """An enterprise's 以工代训 check."""
    enterprise_size: Text = Field(title="企业规模", json_schema_extra=_choice_schema("enterprise_size"))
    industry: Text = Field(title="所属行业", examples=["住宿餐饮"])
    ownership: Text = Field(title="企业性质", examples=["民营"])
    hire_date: Day = Field(title="新吸纳时间", description="YYYY-MM-DD")
    months: Count = Field(title="以工代训月数", ge=1, le=120)

    @field_validator("enterprise_size")
    @classmethod
    def _known_size(cls, value: str) -> str:
        if _picked(value, "enterprise_size") is None:
            raise ValueError("只能是：" + "、".join(_shown_values("enterprise_size")))
        return value

    def facts(self) -> tuple[dict, dict]:
        facts: dict[str, Any] = {}
        labels: dict[str, str] = {}
        facts["region"], labels["region"] = self._region()
        facts["enterprise_size"], labels["enterprise_size"] = _picked(self.enterprise_size, "enterprise_size")
        industry, labels["industry"] = _open_choice(self.industry, "industries")
        if industry not in {c["value"] for c in choice_sets()["industries"]}:
            industry, labels["industry"] = "其他", f"其他行业（{industry}）"
        facts["industry"] = industry
        facts["ownership"], labels["ownership"] = _open_choice(self.ownership, "ownership")
        facts["hire_date"], labels["hire_date"] = self.hire_date.isoformat(), cn_date(self.hire_date)
        facts["months"] = self.months
        return facts, labels


class TraineeFacts(_Facts):
    """A trainee's subsidy check."""
    subsidized_trainings_this_year: Count = Field(title="今年已享受培训补贴次数", ge=0, le=100)
    same_occupation_level_before: StrictBool = Field(title="是否享受过同一职业同一等级补贴")
    certificate: Text = Field(title="取得的证书", examples=["职业技能等级证书"])
    over_retirement_age: StrictBool = Field(title="是否超过法定退休年龄")
    receives_pension: StrictBool = Field(title="是否按月领取养老金")
    job_registration: Optional[StrictBool] = Field(None, title="是否有就业失业（求职）登记")
    has_voucher: Optional[StrictBool] = Field(None, title="是否拿到电子培训券")

    def facts(self) -> tuple[dict, dict]:
        facts: dict[str, Any] = self.model_dump(exclude={"region", "certificate"})
        labels: dict[str, str] = {}
        facts["region"], labels["region"] = self._region()
        facts["certificate"], labels["certificate"] = _open_choice(self.certificate, "certificates")
        return facts, labels
