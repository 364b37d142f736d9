"""What followers type, parsed: dates, numbers, yes/no, choices by digit or word, places."""
from __future__ import annotations

from datetime import date

import pytest

from forms import parsers, regions
from forms.parsers import Context, Invalid

TODAY = date(2022, 6, 1)
CTX = Context(today=TODAY)


@pytest.mark.parametrize("text,expected,shown", [
    ("2021年3月15日", date(2021, 3, 15), "2021年3月15日"),
    ("2021-03-15", date(2021, 3, 15), "2021年3月15日"),
    ("2021/3/15", date(2021, 3, 15), "2021年3月15日"),
    ("2021.3.15", date(2021, 3, 15), "2021年3月15日"),
    ("２０２１年３月１５日", date(2021, 3, 15), "2021年3月15日"),
    ("21年3月", date(2021, 3, 1), "2021年3月"),
    ("2021年3月份", date(2021, 3, 1), "2021年3月"),
    ("3月15号", date(2022, 3, 15), "2022年3月15日"),
    ("去年三月", date(2021, 3, 1), "2021年3月"),
    ("去年十二月二十号", date(2021, 12, 20), "2021年12月20日"),
    ("今年1月", date(2022, 1, 1), "2022年1月"),
    ("前年十月", date(2020, 10, 1), "2020年10月"),
    ("二〇二一年三月", date(2021, 3, 1), "2021年3月"),
])
def test_dates(text, expected, shown):
    parsed = parsers.parse_date(text, {}, CTX)
    assert parsed.value == expected.isoformat() and parsed.display == shown


@pytest.mark.parametrize("text", ["昨天下午", "2021年13月", "2月30日", "好久以前", "", "6"])
def test_bad_dates(text):
    with pytest.raises(Invalid) as bad:
        parsers.parse_date(text, {}, CTX)
    assert "例如" in bad.value.hint


MONTHS = {"unit": "个月", "min": 1, "max": 120}


@pytest.mark.parametrize("text,value", [
    ("6", 6), ("６", 6), ("六个月", 6), ("6个月", 6), ("半年", 6), ("一年", 12), ("一年半", 18),
    ("两个月", 2), ("十二个月", 12), ("九", 9),
])
def test_month_numbers(text, value):
    assert parsers.parse_number(text, MONTHS, CTX).value == value


@pytest.mark.parametrize("text", ["0", "2021年3月", "很久", "121", "3到5个月"])
def test_bad_month_numbers(text):
    with pytest.raises(Invalid):
        parsers.parse_number(text, MONTHS, CTX)


@pytest.mark.parametrize("text,value", [("0", 0), ("没有", 0), ("一次也没有", 0), ("三次", 3), ("2次", 2), ("1", 1)])
def test_count_numbers(text, value):
    assert parsers.parse_number(text, {"unit": "次", "min": 0, "max": 50}, CTX).value == value


@pytest.mark.parametrize("text", ["是", "对", "有", "嗯", "是的", "对的", "1", "有的", "嗯嗯"])
def test_yes(text):
    assert parsers.parse_yes_no(text, {}, CTX).value is True


@pytest.mark.parametrize("text", ["不是", "没有", "否", "不", "2", "没", "不是的", "没有领"])
def test_no(text):
    assert parsers.parse_yes_no(text, {}, CTX).value is False


def test_slot_specific_yes_no_words_and_questions():
    slot = {"yes_words": ["领", "领了"], "no_words": ["没领", "领不了"]}
    assert parsers.parse_yes_no("领着呢", slot, CTX).value is True
    assert parsers.parse_yes_no("领不了", slot, CTX).value is False
    for text in ("是不是要先登记？", "不知道", "3"):
        with pytest.raises(Invalid):
            parsers.parse_yes_no(text, slot, CTX)


INDUSTRY = {"choices": "@industries", "other": {"value": "其他", "label": "其他行业"}, "show_word": True}


@pytest.mark.parametrize("text,value", [
    ("2", "住宿餐饮"), ("第2个", "住宿餐饮"), ("饭馆", "住宿餐饮"), ("开酒店的", "住宿餐饮"),
    ("超市", "批发零售"), ("商店", "批发零售"), ("旅行社", "文化旅游"), ("景区", "文化旅游"),
    ("进出口贸易", "外贸"), ("货运", "交通运输"), ("快递", "待确认"), ("6", "其他"), ("造汽车零件", "其他"),
])
def test_industry_by_digit_or_word(text, value):
    assert parsers.parse_choice(text, INDUSTRY, CTX).value == value


def test_hidden_choices_are_not_numbered_and_other_is_not_confident():
    shown = parsers.numbered(parsers.choice_options(INDUSTRY))
    assert [c["value"] for c in shown] == ["外贸", "住宿餐饮", "文化旅游", "交通运输", "批发零售", "其他"]
    with pytest.raises(Invalid):
        parsers.parse_choice("7", INDUSTRY, CTX)
    assert parsers.parse_choice("造汽车零件", INDUSTRY, CTX).confident is False
    with pytest.raises(Invalid):
        parsers.parse_choice("火星", {"choices": "@enterprise_size"}, CTX)


@pytest.mark.parametrize("text,region", [
    ("聊城", "山东 聊城"), ("山东省聊城市", "山东 聊城"), ("山东 聊城", "山东 聊城"), ("临清", "山东 聊城"),
    ("济南", "山东 济南"), ("济源", "河南 济源"), ("文水县", "山西 吕梁 文水"), ("山西文水", "山西 吕梁 文水"),
    ("北京", "北京"), ("郑州市", "郑州市"), ("1", "山东 聊城"), ("4", "山西 吕梁 文水"),
])
def test_regions(text, region):
    assert parsers.parse_region(text, {"choices": "@regions"}, CTX).value == region


def test_region_scopes():
    assert regions.within("山东 聊城", "山东") and regions.within("山东", "山东")
    assert not regions.within("山东", "山东 聊城") and not regions.within("河南 济源", "山东")
    assert regions.within(None, "*") and not regions.within(None, "山东")
    with pytest.raises(Invalid):
        parsers.parse_region("随便", {"choices": "@regions"}, CTX)


def test_phone_and_questions():
    assert parsers.parse_phone("138 0013 8000", {}, CTX).display == "138****8000"
    with pytest.raises(Invalid):
        parsers.parse_phone("12345", {}, CTX)
    assert parsers.looks_like_question("以工代训补贴多少钱")
    assert parsers.looks_like_question("可以吗？")
    assert not parsers.looks_like_question("饭馆")


def test_a_choice_is_found_by_its_value_word():
    """'聊城' picks the choice labelled '山东聊城' (value 聊城), not the 'other' fallback."""
    import yaml
    from pathlib import Path

    form = yaml.safe_load((Path(__file__).resolve().parents[1] / "forms" / "defs" / "complaint.yaml").read_text("utf-8"))
    slot = next(s for s in form["slots"] if s["name"] == "region")
    parsed = parsers.parse_choice("聊城", slot, None)
    assert parsed.value == "聊城" and "其他" not in parsed.display
    assert parsers.parse_choice("济源", slot, None).value == "济源"
    assert parsers.parse_choice("郑州", slot, None).value == "其他"
