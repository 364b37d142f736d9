"""The typed form state and the pure engine: the old untyped dict still loads (databases written by
the first engine carry on after an upgrade), damaged parts are repaired, and `step` touches
nothing but the state it returns; form definitions fail to load with the place named."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from forms import engine, registry
from forms.state import VERSION, FormState, UserInput

NOW = datetime(2022, 6, 1, 8, 0, tzinfo=timezone.utc)
TODAY = date(2022, 6, 1)

# what the first engine stored after "以工代训自测", "聊城" (the ten keys, no version)
LEGACY = {
    "form": "yigong", "slots": {"region": "山东 聊城"}, "labels": {"region": "山东 聊城"},
    "history": ["region"], "pending": "enterprise_size", "misses": 1, "offer_cancel": False,
    "started_at": (NOW - timedelta(minutes=5)).isoformat(), "updated_at": (NOW - timedelta(minutes=1)).isoformat(),
    "collecting": {},
}


def say(text: str, **fields) -> UserInput:
    return UserInput(today=TODAY, now=NOW, text=text, **fields)


def test_the_legacy_dict_loads_as_the_current_version():
    state = FormState.load(LEGACY)
    assert state.version == VERSION and state.form == "yigong"
    assert state.slots == {"region": "山东 聊城"} and state.history == ["region"]
    assert state.pending == "enterprise_size" and state.misses == 1 and state.offer_cancel is False
    assert state.updated_at == NOW - timedelta(minutes=1)
    stored = state.dump()
    assert stored["version"] == VERSION and FormState.load(stored) == state
    assert {k: stored[k] for k in ("form", "slots", "labels", "history", "pending", "misses")} == \
        {k: LEGACY[k] for k in ("form", "slots", "labels", "history", "pending", "misses")}


def test_a_legacy_state_carries_on_in_the_engine():
    state = FormState.load(LEGACY)
    reply, new_state, side = engine.step(registry.form("yigong"), state, say("小微"))
    assert "企业性质" in reply and side is None
    assert new_state.pending == "ownership" and new_state.slots["enterprise_size"] == "小微"
    assert new_state.misses == 0 and new_state.updated_at == NOW
    assert state.pending == "enterprise_size"  # the state handed in is left as it was


@pytest.mark.parametrize("raw", [None, {}, {"slots": {}}, [], "yigong", {"form": ""}])
def test_no_active_form(raw):
    assert FormState.load(raw) is None


def test_damaged_parts_are_repaired():
    state = FormState.load({"form": "yigong", "slots": ["x"], "labels": None, "history": "region",
                            "pending": 3, "misses": "two", "offer_cancel": "yes", "updated_at": "yesterday"})
    assert (state.slots, state.labels, state.history, state.pending, state.misses) == ({}, {}, [], None, 0)
    assert state.offer_cancel is False and state.updated_at is None  # an unreadable time never expires
    damaged_current = {**state.dump(), "misses": "many"}
    assert FormState.load(damaged_current).misses == 0
    reply, new_state, _ = engine.step(registry.form("yigong"), state, say("聊城"))
    assert "企业在哪个地区" in reply and new_state.pending == "region"  # the walk starts again


def test_a_naive_stored_time_is_utc():
    state = FormState.load({**LEGACY, "updated_at": "2022-06-01T07:59:00"})
    assert state.updated_at == NOW - timedelta(minutes=1)


def test_step_returns_side_questions_for_the_router():
    started = engine.start(registry.form("yigong"), say("以工代训自测", region="山东 聊城"))
    assert "企业规模" in started.reply and started.new_state.slots["region"] == "山东 聊城"
    reply, state, side = engine.step(registry.form("yigong"), started.new_state, say("以工代训补贴每个月多少钱？"))
    assert side is not None and side.text == "以工代训补贴每个月多少钱？"
    assert reply == side.unanswered and "企业规模是？" in reply and state.pending == "enterprise_size"
    from knowledge.types import Answer

    answered = side.render(Answer(answer="每人每月500元。", sources=[]))
    assert answered.startswith("每人每月500元。") and answered.endswith(side.tail) and "继续以工代训补贴自测" in answered


def test_leaving_and_expiry_end_the_form():
    state = FormState.load(LEGACY)
    asked = engine.step(registry.form("yigong"), state, say("菜单"))  # issue 12: asked before leaving
    assert asked.reply == "您正在填写以工代训补贴自测，要放弃并返回菜单吗？回复1放弃 / 2继续"
    assert engine.step(registry.form("yigong"), asked.new_state, say("1")) == ("菜单", None, None)
    old = state.model_copy(update={"updated_at": NOW - timedelta(hours=25)})
    reply, new_state, side = engine.step(registry.form("yigong"), old, say("小微"))
    assert "超过24小时" in reply and new_state is None and side is None


def test_definitions_fail_to_load_naming_the_place():
    good = {"name": "t", "title": "测试", "on_complete": "guide_done",
            "slots": [{"name": "a", "question": "?", "parser": "choice",
                       "choices": [{"label": "x", "goto": "b"}]},
                      {"name": "b", "question": "?", "when": {"fact": "a", "equals": "x"}}]}
    assert registry.parse_form(good).slot("b").applies({"a": "x"})
    cases = [
        ({"slots": [{"name": "a", "question": "?", "parser": "dates"}]}, "unknown parser 'dates'"),
        ({"slots": [{"name": "a", "question": "?", "choices": [{"label": "x", "goto": "zz"}]}]},
         "slot a (slots[0]).choices[0].goto: `goto: zz` names no slot"),
        ({"slots": [{"name": "a", "question": "?", "when": {"fact": "nope", "equals": 1}}]}, "'nope'"),
        ({"slots": [{"name": "a", "question": "?", "when": {"fact": "a", "eq": 1}}]}, "unknown operator 'eq'"),
        ({"on_complete": "bot.complaint_dialog:file_from_form"}, "not a code path"),
        ({"slots": [{"name": "a", "question": "?", "parsr": "text"}]}, "slots[0].parsr"),
    ]
    for change, message in cases:
        with pytest.raises(registry.FormError) as bad:
            registry.parse_form({**good, **change})
        assert message in str(bad.value) and "form t" in str(bad.value), str(bad.value)
