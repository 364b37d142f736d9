"""What kind of fact a question asks for, and whether a passage states that kind of fact.

Why: “能给多少钱” is answered by a sentence with an amount, “多久” by a duration, “要啥材料” by a
list of documents — whatever words the asker used. Matching the question type to the answer
type is a ranking feature that holds for any notice, and it picks the fact the short plain
answer leads with. The patterns are general Chinese question words and the general shapes of
amounts, durations, dates and counts; none is about a particular notice or question. Questions
arrive in standard spelling (knowledge/normalise.py has turned 啥/咋/中不中 into 什么/怎么/行不行),
so the patterns need no dialect variants.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class QType:
    name: str
    asks: re.Pattern  # in the question
    states: re.Pattern  # in a sentence that answers it
    figure: re.Pattern | None = None  # in the question: asks for the figure itself (“补多少钱”)


def _re(text: str) -> re.Pattern:
    return re.compile(text)


# a number: digits, or Chinese numerals that hold a digit word — a bare 万/千/百 is a unit, so the
# blank "××万元" of a form to fill in states no amount
NUM = r"(?:\d+(?:\.\d+)?|[一二三四五六七八九十百千万两]*[一二三四五六七八九十两][一二三四五六七八九十百千万两]*)"
# a sum of money asked by what it is for (“要交多少学费”, “要多少注册资金”, “面值多少”) or by paying
# (“交多少”); “经费有多少用于…” or “工资总额的多少” ask a share, and 多少 before a measure word a count
_MEASURE_NEXT = r"(?![人个家名次项天月年分种所期批学员])"
MONEY_ASKED = (r"多少(?:注册)?(?:资金|学费|费用|\S{0,2}费)(?!用于|用在)|(?:学费|面值|费用|\S费)(?:是|要|得|大概)?多少" + _MEASURE_NEXT +
               r"|(?:交|缴|花|付|掏)多少" + _MEASURE_NEXT)
# the shapes of a contact: a telephone number, an e-mail address, a web address
_PHONE = r"\d{3,4}\s*-\s*\d{7,8}|1\d{10}"
_EMAIL = r"[\w.-]+@[\w-]+\.[\w.]+"
_SITE = r"https?://|www\.|\w\.(?:gov\.cn|com|cn)\b"
QTYPES: tuple[QType, ...] = (
    QType("amount", _re(r"多少钱|多少元|几块|几千|几百|(?:给|补|发|拿|领|退|返)(?:点|些)?钱|补多少|补贴多少|给多少|发多少|标准是|补贴标准|金额|费用|奖金|奖励多少|"
                        + MONEY_ASKED),
          _re(NUM + r"\s*(?:元|万元|块)"),
          _re(r"多少钱|多少元|多少块|几块钱|几千块|几百块|补多少|给多少|发多少|补贴多少|标准是多少|金额是多少|多少奖金|奖金多少|奖励多少|"
              + MONEY_ASKED)),
    QType("duration", _re(r"多久|多长|几天|几个月|几年|期限|时长|几小时|几个小时|几课时|几学时|多少课时|多少学时|多少天|多少分钟|几分钟"),
          _re(NUM + r"\s*(?:个工作日|个月|天|日|年|小时|课时|学时|分钟|周)|最长|期限")),
    QType("deadline", _re(r"最迟|最晚|截止|截至|之前|以前|哪天前|什么时候前|期限"),
          _re(r"\d{1,2}\s*月\s*\d{1,2}\s*日\s*(?:前|之前|以前|止|截止)|(?:截止|截至)\S{0,4}\d|\d{1,2}\s*月(?:底|前)")),
    QType("date", _re(r"什么时候|何时|截止|哪天|几号|几月|最迟|最晚|到期|有效期|还能.{0,4}(?:申请|办|领)|过期"),
          _re(r"\d{4}\s*年|\d{1,2}\s*月\s*\d{1,2}\s*日|\d{1,2}\s*月(?:底|前|份)")),
    QType("count", _re(r"几次|几个|几家|几所|几类|几项|几名|几人|几期|几批|多少人|多少个|多少家|多少名|多少次|多少项|名额|人数|数量"),
          _re(NUM + r"\s*(?:次|个|家|所|人|名|类|项|期|批|套|组|万人|张|份|本|台|位|种|场|轮|门|条|篇|段)|(?:人数|数量|名额|人次)\s*[:：]\s*\d")),
    QType("share", _re(r"比例|百分之|百分比|占多少|几成|%|率"),
          _re(r"\d+(?:\.\d+)?\s*%|百分之|\d+\s*[:：]\s*\d+|比例")),
    QType("materials", _re(r"材料|资料|证明|手续|带什么|交什么|提供什么|准备什么|证件"),
          _re(r"材料|资料|证明|复印件|花名册|申请表|执照|证书|凭证|台账|清单")),
    QType("procedure", _re(r"怎么申请|如何申请|怎么领|怎么办理|如何办理|流程|程序|步骤|去哪|在哪|哪里|怎么报|怎么弄"),
          _re(r"申请|申领|提交|审核|受理|报送|备案|审批|拨付|登录|办理")),
    QType("condition", _re(r"条件|要求|谁能|哪些人|什么人|符合|资格|够不够|算不算|够格|能享受|可以享受"),
          _re(r"条件|对象|范围|符合|须|应当|要求|的，|以上|以下|不低于|不少于|不超过")),
    QType("yesno", _re(r"能不能|可不可以|可以吗|能吗|是否|会不会|行不行|成不成|要不要|需不需要|用不用|有没有|算不算|吗[？?]?$|[^\s不]不[？?]*$|没[？?]*$"),
          _re(r"可|不得|不能|不予|无需|不需|不再|应当|必须|须|禁止|严禁|允许|纳入")),
    QType("contact", _re(r"电话|联系方式|咨询|打给谁|联系谁|邮箱|热线|网址|网站|官网|链接"),
          _re("|".join((_PHONE, _EMAIL, _SITE))),
          # asked outright, not mentioned (“被电话回访”, “咨询服务”)
          _re(r"联系方式|怎么联系|联系谁|打给谁|(?:找谁|去哪|哪里|在哪)咨询|(?:电话|热线|座机|邮箱|网址|网站|官网)(?:号码|地址)?(?:是|为)?"
              r"(?:多少|几|什么)|(?:哪个|什么)(?:电话|热线|号码|邮箱|网址|网站)|(?:电话|热线|邮箱|网址)(?:呢)?[?？]*$")),
    QType("penalty", _re(r"处罚|怎么处理|后果|查处|会怎样|会怎么样|被抓|违规|造假|骗"),
          _re(r"取消|暂停|追回|退还|清退|责任|黑名单|通报|处理|追究|移交")),
    QType("who", _re(r"哪个部门|谁负责|责任单位|哪个单位|找谁|哪家单位|谁来"),
          _re(r"责任单位|局|部门|负责|牵头|配合")),
    QType("size", _re(r"多大|多宽|多高|多远|多重|面积|多少平|几平|多少米|多少公里|多少公斤"),
          _re(NUM + r"\s*(?:平方米|平米|㎡|米|公里|千米|公斤|千克|吨)")),
    # a bare 多少 / 几成 with no measure word (“能抵多少”, “占多少”): some figure, whatever its unit;
    # read only when no other concrete type is asked (asked_types)
    QType("quantity", _re(r"多少|几成|几倍|几分"),
          _re(r"\d+(?:\.\d+)?\s*(?:%|％|‰|倍|成)|" + NUM + r"\s*(?:分|元|万|个|人|名|位|次|天|日|月|年|小时|课时|学时|分钟|"
              r"项|家|所|类|种|期|批|张|本|台|门|条|平方米|米)")),
)
GENERIC = "quantity"


CONCRETE = ("amount", "duration", "deadline", "date", "count", "share", "contact", "size", GENERIC)
# “什么时候” may be answered by “结业前”; a bare 多少 may ask “多少人” or “哪些”
FIGURES = tuple(name for name in CONCRETE if name not in ("date", GENERIC))
FIGURE_WORDS = {"amount": "具体金额", "duration": "具体时长", "deadline": "截止时间", "count": "具体数量",
                "share": "具体比例", "contact": "联系方式", "size": "具体面积或尺寸", "phone": "联系电话",
                "email": "邮箱", "site": "网址", "name": "具体名称", "organisation": "具体单位名称", "channel": "办理的平台或渠道",
                "address": "具体地址"}  # what a refusal says the notice leaves out

# Details asked outright by an interrogative with the kind of thing it wants: a clause that names
# no such thing cannot answer (“中标的6所机构是哪几家” against “中标6所培训机构”). General Chinese
# question grammar and the general shapes of names, platforms and addresses; read only by
# figures_asked, never as a ranking type.
_ORG = r"公司|机构|学校|学院|院校|医院|协会|技校|驾校"
_ORG_NAME = r"[\u4e00-\u9fa5A-Za-z]{2,}(?:有限公司|公司|学校|学院|大学|技校|医院|协会|集团|研究院|中心|局|厅)"
_CHANNEL = r"APP|App|app|小程序|公众号|平台|网站|软件|客户端|系统"
DETAILS: tuple[QType, ...] = (
    # asked, not mentioned: “电话是多少”, “打哪个电话”, not “被电话回访”
    QType("phone", _re(r"(?:电话|热线|座机|手机号|号码)(?:号码)?(?:是|为)?(?:多少|几|什么)|(?:哪个|什么)(?:电话|热线|号码)"
                       r"|(?:打|拨)(?:多少|哪个)|(?:电话|热线)(?:呢)?[?？]*$"),
          _re(_PHONE + r"|\b\d{5,8}\b|12333")),
    QType("email", _re(r"邮箱(?:地址)?(?:是|为)?(?:多少|什么)|(?:哪个|什么)邮箱|邮箱(?:呢)?[?？]*$"), _re(_EMAIL)),
    QType("site", _re(r"(?:网址|官网|链接)(?:是|为)?(?:多少|什么)|(?:哪个|什么)(?:网址|网站|官网|链接)|(?:网址|官网)(?:呢)?[?？]*$"),
          _re(_SITE)),
    # which organisation (“哪家公司”, “哪几所学校”): a named one; a name asked (“叫什么名字”): that, or
    # anything the notice names in quotation or title marks (“马兰花计划”)
    QType("organisation", _re(r"哪几?(?:家|所)(?!单位|部门)|(?:是|有)哪些\S{0,6}?(?:" + _ORG + r")"), _re(_ORG_NAME)),
    QType("name", _re(r"叫什么名|什么名字|名字叫"), _re(_ORG_NAME + r"|[“《][^”》]{2,30}[”》]")),
    QType("channel", _re(r"(?:哪个|什么|哪款|啥)(?:" + _CHANNEL + r")"), _re(_CHANNEL + r"|https?://|www\.")),
    QType("address", _re(r"地址|办公地点|在哪个窗口|哪个窗口|门牌|哪栋楼|几楼|在什么地方办"),
          _re(r"\S{2,}(?:路|街|大道)\S{0,6}号|大厅|窗口|\d+\s*(?:楼|层|室)|办公室")),
)


# The measure words of Chinese counting, grouped by what they measure: asked “多少人”, a clause
# must state people, not “6所” schools (or a table's 人数 cell). General grammar, not any notice;
# the generic 个 is never asked for (it measures anything) but answers 几家, 几项 and 几类.
MEASURES: dict[str, tuple[str, tuple[str, ...]]] = {}
PEOPLE_CELL = r"|(?:人数|人次|名额)\s*[:：]\s*\d"  # a table cell: “培训人数：12000”
for _type, _groups in {
    "count": (("人次", "人", "名", "位"), ("家", "所", "个"), ("次", "回"), ("项", "个"), ("类", "种", "个"), ("期",), ("批",),
              ("张",), ("本",), ("台",), ("门",), ("条",)),
    "duration": (("课时", "学时"), ("分钟",), ("小时", "课时", "学时"), ("天", "日", "个工作日", "工作日"),
                 ("个月", "月"), ("周",)),
    "amount": (("元", "万元", "块"),),
}.items():
    for _group in _groups:
        for _word in _group:
            if _word != "个":
                MEASURES.setdefault(_word, (_type, _group))
ASKED_MEASURE = re.compile(r"(?<!哪)(?:多少|几)(?:个|万|千|百)?(" + "|".join(sorted(MEASURES, key=len, reverse=True)) + ")")


TIME_ADVERB = re.compile(r"(?:前|这|近|头|过|那)几(?:年|天|个月|周)")


def figures_asked(question: str) -> list[QType]:
    """The types whose figure the question asks for outright (“一天补多少钱”, “几个人”): a
    clause that states no such figure cannot answer it, however close its words are. A figure
    asked with its measure word (“多少人”, “几所”, “多少课时”) is stated only with that measure
    (“哪几种” asks which ones, not how many)."""
    # “哪几家” asks which ones, not how many; “前几年” says when, and asks nothing. The measure
    # words below are read from the question as written (their own pattern skips “哪几”; read
    # from `plain` they cost answers on the training and validation sets)
    plain = TIME_ADVERB.sub("", question.replace("哪几", "哪"))
    asked = [t for t in QTYPES if t.name in FIGURES and (t.figure or t.asks).search(plain)]
    details = [t for t in DETAILS if t.asks.search(question)]
    if any(t.name in ("phone", "email", "site") for t in details):
        asked = [t for t in asked if t.name != "contact"]  # “电话多少” is not answered by an email address
    asked += details
    measured: dict[str, set[str]] = {}
    for m in ASKED_MEASURE.finditer(question):
        kind, group = MEASURES[m.group(1)]
        measured.setdefault(kind, set()).update(group)
    asked += [t for t in QTYPES if t.name in measured and t not in asked]  # “多少万人次” asks a count
    out = []
    for t in asked:
        words = measured.get(t.name)
        if words:
            unit = "|".join(sorted(words, key=len, reverse=True))
            cell = PEOPLE_CELL if "人" in words else ""
            t = replace(t, states=re.compile(NUM + r"\s*(?:万|千|百)?\s*(?:" + unit + ")" + cell))
        out.append(t)
    return out


def figure_absent(types: list[QType], text: str) -> float:
    """1 when figures are asked and `text` states none of them."""
    return float(bool(types) and not any(t.states.search(text) for t in types))


def asked_types(question: str) -> list[QType]:
    """The fact types asked, the one asked last first (“招了几个人，能补多少钱”: the amount)."""
    found = []
    for t in QTYPES:
        ends = [m.end() for m in t.asks.finditer(question)]
        if ends:
            found.append((max(ends), t))
    if any(t.name in CONCRETE and t.name != GENERIC for _end, t in found):
        found = [(end, t) for end, t in found if t.name != GENERIC]
    return [t for _end, t in sorted(found, key=lambda x: -x[0])]


def type_match(types: list[QType], text: str) -> float:
    """Share of the asked fact types that `text` states (0 when nothing typed is asked)."""
    if not types:
        return 0.0
    return sum(1 for t in types if t.states.search(text)) / len(types)


def _concrete(types: list[QType]) -> list[QType]:
    """The concrete fact types asked, in the order to look for them: the type asked last first,
    except that a deadline (“最迟什么时候”) is a date that ends something, and stands in for
    any other date."""
    out = [t for t in types if t.name in CONCRETE]
    if any(t.name == "deadline" for t in out):  # a start date (“2019年1月1日以来”) is no deadline
        out = [t for t in out if t.name != "date"]
    return sorted(out, key=lambda t: t.name != "deadline")


def first_fact(types: list[QType], text: str) -> re.Match | None:
    """Where `text` states the concrete fact asked: for the first type (see _concrete) it states."""
    found = fact_matches(types, text)
    return found[0] if found else None


def fact_matches(types: list[QType], text: str) -> list[re.Match]:
    """Every place `text` states the concrete fact asked, for the first type it states."""
    for t in _concrete(types):
        found = list(t.states.finditer(text))
        if found:
            return found
    return []


def fact_units(types: list[QType], units: list[str]) -> list[int]:
    """Which of a clause's sentences state the concrete fact asked, for the first type that any
    of them states: for “最迟什么时候报”, the sentences with a deadline, not any date."""
    for t in _concrete(types):
        found = [j for j, u in enumerate(units) if t.states.search(u)]
        if found:
            return found
    return []
