"""Property tests for /wechat: a few hundred generated messages, each signed with a fresh
timestamp and nonce (the server's WECHAT_MAX_AGE and one-message-per-signature stay on), posted
to a real server in plain mode and, separately, in safe mode with wechatpy's real AES crypto.

The generator knows what each message is, so the contract is asserted exactly (bot/wechat/routes.py
and protocol.py):
- a well-formed message (any MsgType, odd or missing optional fields, CreateTime or MsgId of the
  wrong type, any text, CDATA split or escaped, comments, a BOM) answers 200 with either
  "success" (text/plain) or a passive text reply (application/xml; in safe mode encrypted, with a
  MsgSignature that verifies and the request's nonce) addressed back to the sender, whose
  Content is 1..2048 bytes of UTF-8; the same request again (WeChat's retry) gets the same
  Content or "success";
- a malformed one answers the exact refusal the protocol names: 400 "XML 格式错误" (not
  well-formed, control characters, non-UTF-8, no MsgType, wrong root…), 400 "XML 缺少必要字段"
  (no usable FromUserName), 400 "不接受带 DOCTYPE 的 XML", 413 "消息过大", in safe mode 400
  "无法解密消息" for non-UTF-8 plaintext, and 403 for a wrong signature, AppID or old timestamp;
- never a 5xx, and never "该签名已使用过" (every request here is signed afresh).

`test_generated_messages` draws from all of it; `test_each_refusal` runs each defect and each
spoilt request in both modes a few times, since at random the rarer ones would hardly come up;
`test_long_form_conversations` walks the complaint form with long answers, which its summary
quotes back.
"""
from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field
from typing import Optional

import httpx
import pytest
import xmltodict
from hypothesis import given, strategies as st
from wechatpy.crypto import WeChatCrypto

from tests.conftest import TEST_AES_KEY, TEST_TOKEN
from tests.property_util import fast, no_5xx
from tests.wechat_util import WECHAT_ENV, new_openid, platform_for, sign

pytestmark = pytest.mark.db

MAX_REPLY_BYTES = 2048
MAX_BODY = 1 << 20
MALFORMED = "XML 格式错误"
NO_SENDER = "XML 缺少必要字段"
DOCTYPE = "不接受带 DOCTYPE 的 XML"
TOO_BIG = "消息过大"
UNDECRYPTABLE = "无法解密消息"
MENU_KEYS = ["POLICY_QA", "FORM_TRAINEE", "FORM_YIGONG", "FORM_VOUCHER", "FORM_COMPLAINT", "QUERY_PROGRESS"]
WORDS = ["菜单", "帮助", "1", "2", "3", "6", "更多", "取消", "我要投诉", "进度", "我在聊城", "地区 济源",
         "培训补贴多少钱", "以工代训", "是", "否", "张三", "13800138000", "？", "\u3000", "ＡＢＣ"]
KNOWN_TAGS = {"ToUserName", "FromUserName", "CreateTime", "MsgType", "MsgId", "Content", "PicUrl",
              "MediaId", "Format", "Recognition", "ThumbMediaId", "Location_X", "Location_Y", "Scale",
              "Label", "Title", "Description", "Url", "Event", "EventKey", "Latitude", "Longitude",
              "Precision", "Ticket", "MsgDataId", "Idx"}

_nonces = itertools.count(random.randint(10**8, 10**9))


# ---------------------------------------------------------------- text the XML may carry

def pick(options):
    """One of `options`, evenly. (Drawn inside a composite, hypothesis' sampled_from leans hard
    on the first few: a defect listed last was hardly ever tried.)"""
    options = list(options)
    return st.integers(0, 2**32 - 1).map(lambda i: options[i % len(options)])


def _xml_char(c: str) -> bool:
    """A Char of XML 1.0 (no control characters, no U+FFFE/FFFF; surrogates never get here)."""
    cp = ord(c)
    return c in "\t\n\r" or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD or cp >= 0x10000


legal = st.characters(codec="utf-8").filter(_xml_char)
plain_text = st.text(legal, max_size=60)
content = st.one_of(
    plain_text, plain_text, pick(WORDS),
    st.lists(st.one_of(pick(WORDS), st.text(legal, max_size=3)), max_size=6).map("".join),
    pick(["", " ", "\n\t ", "]]>", "<![CDATA[x]]>", "<xml><MsgType>event</MsgType></xml>",
          "&amp;", "&#x4e2d;", "\U0001F600" * 30, "a]]]]>b"]),
    st.tuples(st.text(legal, min_size=1, max_size=8), st.integers(1000, 60000)).map(lambda t: (t[0] * t[1])[:60000]),
)
# An openid as the platform sends it, or anything else that is non-blank text.
openids = st.one_of(
    pick(["oProp1", "oProp2", "oProp3"]),
    st.from_regex(r"\Ao[A-Za-z0-9_-]{27}\Z"),
    st.text(legal.filter(lambda c: c != "\r"), min_size=1, max_size=40).filter(lambda s: s.strip()),
)
numbers = st.one_of(st.integers(-10**12, 10**12).map(str), st.integers(10**19, 10**40).map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(str))
create_times = st.one_of(st.just(None), st.builds(lambda: str(int(time.time()))), numbers,
                         pick(["", "abc", "1.5", "１２３", "0x10", "  42  ", "9" * 5000]), plain_text)
msg_ids = st.one_of(st.just(None), pick(["1", "2", "0", "6054768590064713728"]),
                    st.integers(0, 10**25).map(str), plain_text)
events = st.one_of(pick(["subscribe", "unsubscribe", "CLICK", "click", "VIEW", "SCAN", "LOCATION",
                         "TEMPLATESENDJOBFINISH", "MASSSENDJOBFINISH", "scancode_push",
                         "pic_sysphoto", "location_select", "view_miniprogram"]),
                   st.text(legal, min_size=1, max_size=20).filter(lambda s: s.strip()))
event_keys = st.one_of(st.just(None), pick(MENU_KEYS), pick(
    ["qrscene_123", "scanbarcode|x", "scanimage|y", "https://example.com/", "", "FORM_NOPE"]), plain_text)
tag_names = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,15}\Z").filter(lambda t: t not in KNOWN_TAGS)


def _cdata(s: str) -> str:
    return "<![CDATA[" + s.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def _escaped(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _charrefs(s: str) -> str:
    return "".join(f"&#x{ord(c):x};" for c in s)


def _render(style: str, s: str, cut: int) -> str:
    if style == "cdata":
        return _cdata(s)
    if style == "escaped":
        return _escaped(s)
    if style == "charrefs" and len(s) < 200:
        return _charrefs(s)
    k = cut % (len(s) + 1)  # mixed: CDATA, then escaped text, joined into one value
    return _cdata(s[:k]) + _escaped(s[k:])


def _norm(s: Optional[str]) -> str:
    """What the server reads from a value: line ends normalised, whitespace stripped (xmltodict)."""
    return (s or "").replace("\r\n", "\n").replace("\r", "\n").strip()


# ---------------------------------------------------------------- messages

@dataclass
class Case:
    body: bytes  # the message XML (the plaintext, in safe mode)
    status: int = 200  # expected; 200: a reply or "success"
    reason: str = ""  # the exact refusal text (in safe mode, non-UTF-8 plaintext fails decryption first)
    source: str = ""  # FromUserName as the server reads it (the reply's ToUserName)
    target: str = ""  # ToUserName likewise (the reply's FromUserName)
    text: bool = False  # a text message: a reply is expected
    twice: bool = False  # send it again: the retry must not be a second turn
    why: str = field(default="valid")


@st.composite
def valid_messages(draw) -> tuple[list[tuple[str, str]], Case]:
    kind = draw(st.one_of(st.just("text"), st.just("text"),
                          pick(["text", "image", "voice", "video", "shortvideo", "location", "link",
                                "event", "event", "file", "TEXT", "Event"]),
                          st.from_regex(r"\A[A-Za-z_]{1,12}\Z")))
    source, target = draw(openids), draw(st.one_of(st.just("gh_test"), st.none(), openids))
    values: dict[str, Optional[str]] = {"ToUserName": target, "FromUserName": source,
                                        "CreateTime": draw(create_times), "MsgType": kind}
    lower = kind.lower()
    if lower == "text":
        values["Content"] = draw(st.one_of(content, st.none()))
    elif lower in ("image", "voice", "video", "shortvideo"):
        values.update(MediaId=draw(plain_text), PicUrl=draw(plain_text), Format=draw(plain_text),
                      Recognition=draw(st.one_of(st.none(), content)))
    elif lower == "location":
        values.update(Location_X=draw(numbers), Location_Y=draw(numbers), Scale=draw(numbers),
                      Label=draw(st.one_of(st.none(), content)))
    elif lower == "link":
        values.update(Title=draw(content), Description=draw(plain_text), Url=draw(plain_text))
    elif lower == "event":
        values.update(Event=draw(st.one_of(events, st.none())), EventKey=draw(event_keys),
                      Latitude=draw(st.one_of(st.none(), numbers)))
    if lower != "event" or draw(st.booleans()):
        values["MsgId"] = draw(msg_ids)
    for tag in draw(st.lists(tag_names, max_size=3, unique=True)):
        values[tag] = draw(plain_text)
    elements = []
    for tag, value in values.items():
        if value is None:
            continue  # a missing field
        style = draw(pick(["cdata", "cdata", "escaped", "charrefs", "mixed"]))
        elements.append((tag, _render(style, value, draw(st.integers(0, 100)))))
    # A field that is not read as text may carry attributes or children: it reads as "".
    if draw(pick([True] + [False] * 9)):
        elements.append(("Description", '<Inner a="1">x</Inner>'))
    elements = draw(st.permutations(elements))
    case = Case(b"", source=_norm(source), target=_norm(target), text=(lower == "text"),
                twice=draw(pick([True] + [False] * 5)))
    return elements, case


def _assemble(elements: list[tuple[str, str]], sep: str = "", head: str = "", attrs: str = "") -> str:
    return head + "<xml>" + sep + sep.join(f"<{t}{attrs if t == 'Content' else ''}>{v}</{t}>"
                                           for t, v in elements) + sep + "</xml>"


@st.composite
def well_formed(draw) -> Case:
    elements, case = draw(valid_messages())
    head = draw(pick(["", '<?xml version="1.0" encoding="utf-8"?>\n', "\ufeff", "<!-- 注释 -->",
                      '<?xml version="1.0" encoding="GBK"?>']))  # the body is UTF-8 whatever it says
    sep = draw(pick(["", "\n", "\r\n  ", "<!-- c -->", "<?pi x?>"]))
    case.body = _assemble(elements, sep, head, draw(pick(["", ' lang="zh"']))).encode()
    return case


def _without(elements, tag):
    return [(t, v) for t, v in elements if t != tag]


def _bad(body: str | bytes, reason: str, why: str, status: int = 400) -> Case:
    return Case(body if isinstance(body, bytes) else body.encode(), status, reason, why=why)


DEFECTS = ["no_from", "blank_from", "nested_from", "dup_from", "attr_from", "no_type", "blank_type", "dup_type",
           "nested_type", "control_char", "bad_charref", "bad_entity", "bare_amp", "unclosed_cdata", "truncated",
           "non_utf8", "doctype", "wrong_root", "text_root", "two_roots", "dup_event", "nested_key", "empty",
           "binary", "too_big"]


@st.composite
def malformed(draw, how: Optional[str] = None) -> Case:
    elements, _ = draw(valid_messages())
    xml = _assemble(elements)
    at = draw(st.integers(0, len(xml)))
    how = how or draw(pick(DEFECTS))
    if how == "no_from":
        return _bad(_assemble(_without(elements, "FromUserName")), NO_SENDER, how)
    if how == "blank_from":
        blank = draw(pick(["", " ", "\n\t", "\u3000", _cdata("  "), "&#x20;"]))
        return _bad(_assemble(_without(elements, "FromUserName") + [("FromUserName", blank)]), NO_SENDER, how)
    if how == "nested_from":
        return _bad(_assemble(_without(elements, "FromUserName") + [("FromUserName", "<a>oX</a>")]), NO_SENDER, how)
    if how == "dup_from":
        return _bad(_assemble(elements + [("FromUserName", _cdata("oOther"))]), NO_SENDER, how)
    if how == "attr_from":
        return _bad(xml.replace("<FromUserName>", '<FromUserName id="1">'), NO_SENDER, how)
    if how == "no_type":
        return _bad(_assemble(_without(elements, "MsgType")), MALFORMED, how)
    if how == "blank_type":
        return _bad(_assemble(_without(elements, "MsgType") + [("MsgType", _cdata(" "))]), MALFORMED, how)
    if how == "dup_type":
        return _bad(_assemble(elements + [("MsgType", _cdata("text"))]), MALFORMED, how)
    if how == "nested_type":
        return _bad(_assemble(_without(elements, "MsgType") + [("MsgType", "<t>text</t>")]), MALFORMED, how)
    if how == "control_char":  # not a Char of XML anywhere, not even inside CDATA
        bad = draw(pick([chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32)]] + ["\ufffe", "\uffff"]))
        return _bad(xml[:at] + bad + xml[at:], MALFORMED, how)
    if how == "bad_charref":
        ref = draw(pick(["&#0;", "&#1;", "&#x1F;", "&#xFFFE;", "&#xD800;", "&#99999999;"]))
        return _bad(_assemble(elements + [("Content", ref)]), MALFORMED, how)
    if how == "bad_entity":
        return _bad(_assemble(elements + [("Note", "&nbsp;")]), MALFORMED, how)
    if how == "bare_amp":
        junk = draw(pick(["a & b", "a < b", "x]]>y"]))
        return _bad(_assemble(elements + [("Note", junk)]), MALFORMED, how)
    if how == "unclosed_cdata":
        return _bad(xml.replace("</xml>", "<Note><![CDATA[abc</Note></xml>"), MALFORMED, how)
    if how == "truncated":  # every proper prefix of the document (mid-character too) is not XML
        raw = xml.encode()
        return _bad(raw[:draw(st.integers(0, len(raw) - 1))], MALFORMED, how)
    if how == "non_utf8":
        raw = xml.encode()
        cut = draw(st.integers(0, len(raw)))
        junk = draw(pick([b"\xff", b"\xfe\xfe", b"\xc0\x80", b"\x80", b"\xed\xa0\x80",
                          "中文".encode("gbk"), b"\xe4\xb8"]))
        return _bad(raw[:cut] + junk + raw[cut:], MALFORMED, how)
    if how == "doctype":
        doctype = draw(pick(['<!DOCTYPE xml [<!ENTITY e "x">]>',
                             '<!doctype xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
                             '<!ENTITY a "b">']))
        return _bad(doctype + xml, DOCTYPE, how)
    if how == "wrong_root":
        root = draw(pick(["XML", "root", "Xml", "message"]))
        return _bad(f"<{root}>" + xml[len("<xml>"):-len("</xml>")] + f"</{root}>", MALFORMED, how)
    if how == "text_root":
        return _bad(draw(pick(["<xml></xml>", "<xml/>", "<xml>text</xml>", "<xml><![CDATA[x]]></xml>"])),
                    MALFORMED, how)
    if how == "two_roots":
        return _bad(xml + xml, MALFORMED, how)
    if how == "dup_event":
        base = [(t, v) for t, v in elements if t not in ("MsgType", "Event")]
        return _bad(_assemble(base + [("MsgType", "event"), ("Event", "CLICK"), ("Event", "VIEW")]), MALFORMED, how)
    if how == "nested_key":  # a subscribe event's EventKey is read as text by wechatpy
        base = [(t, v) for t, v in elements if t not in ("MsgType", "Event", "EventKey")]
        return _bad(_assemble(base + [("MsgType", "event"), ("Event", "subscribe"), ("EventKey", "<k>1</k>")]),
                    MALFORMED, how)
    if how == "empty":
        return _bad(draw(pick([b"", b" ", b"\n"])), MALFORMED, how)
    if how == "binary":
        junk = draw(st.binary(max_size=200).filter(lambda b: b"<!DOCTYPE" not in b.upper()
                                                   and b"<!ENTITY" not in b.upper()))
        return _bad(junk, MALFORMED, how)
    assert how == "too_big"
    filler = "字" * (MAX_BODY // 3 + 1000)  # > 1 MiB as UTF-8, and more once encrypted
    return _bad(_assemble(elements + [("Note", filler)]), TOO_BIG, how, status=413)


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


messages = st.one_of(well_formed(), well_formed(), malformed())


# ---------------------------------------------------------------- sending and reading

@pytest.fixture(scope="module")
def srv(live_server):
    return live_server("wx-properties", **WECHAT_ENV)


def _reply(r: httpx.Response, case: Case, encrypted: bool, nonce: str, crypto: WeChatCrypto) -> Optional[str]:
    """Check a 200 to a well-formed message; its Content (None for "success")."""
    assert r.status_code == 200, (case.why, r.status_code, r.text[:300])
    if r.text == "success":
        assert r.headers["content-type"].startswith("text/plain")
        return None
    assert r.headers["content-type"].startswith("application/xml"), r.headers["content-type"]
    xml = r.text
    if encrypted:
        outer = xmltodict.parse(xml)["xml"]
        assert outer["Nonce"] == nonce and set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
        xml = crypto.decrypt_message(outer, outer["MsgSignature"], outer["TimeStamp"], outer["Nonce"])
    reply = xmltodict.parse(xml, strip_whitespace=False)["xml"]
    assert reply["MsgType"] == "text"
    assert reply["ToUserName"] == case.source and (reply["FromUserName"] or "") == case.target, reply
    assert reply["CreateTime"].isdigit()
    text = reply["Content"]
    assert text and text.strip(), reply
    assert len(text.encode("utf-8")) <= MAX_REPLY_BYTES, len(text.encode("utf-8"))
    return text


def _request(wx, body: bytes, mode: str, tamper: Optional[str] = None) -> tuple[dict, bytes]:
    """(query params, body) as the platform sends `body` in `mode`, signed now with a new nonce,
    then spoilt as `tamper` says."""
    nonce = str(next(_nonces))
    timestamp = str(int(time.time()) - (10_000 if tamper == "stale" else 0))
    params, payload = wx.request(body, mode, timestamp=timestamp, nonce=nonce)
    if tamper == "bad_signature":
        params["signature"] = sign("not-the-token", timestamp, nonce)
    elif tamper == "no_msg_signature":
        del params["msg_signature"]
    elif tamper == "bad_msg_signature":
        params["msg_signature"] = "0" * 40
    elif tamper == "other_appid":
        payload = WeChatCrypto(TEST_TOKEN, TEST_AES_KEY, "wx_someone_else").encrypt_message(
            body, nonce, timestamp).encode()
        params["msg_signature"] = xmltodict.parse(payload)["xml"]["MsgSignature"]
    elif tamper == "outer_not_xml":
        payload = xmltodict.parse(payload)["xml"]["Encrypt"].encode()
    elif tamper == "outer_no_encrypt":
        payload = payload.replace(b"Encrypt>", b"Encrypted>")
    elif tamper == "encrypt_type":
        params["encrypt_type"] = "des"
    return params, payload


def _send(c: httpx.Client, params: dict, payload: bytes) -> httpx.Response:
    r = c.post("/wechat", params=params, content=payload)
    no_5xx(r)
    return r


# A signed-and-fresh request answers by its message; these answer by the request itself.
TAMPER = {
    "raw": {"bad_signature": (403, "签名无效"), "stale": (403, "请求已过期")},
    "aes": {"bad_signature": (403, "签名无效"), "stale": (403, "请求已过期"),
            "no_msg_signature": (403, "缺少 msg_signature"), "bad_msg_signature": (403, "msg_signature 无效"),
            "other_appid": (403, "AppID 不符"), "outer_not_xml": (400, MALFORMED),
            "outer_no_encrypt": (400, MALFORMED), "encrypt_type": (400, "不支持的 encrypt_type")},
}


def _exchange(c: httpx.Client, wx, mode: str, case: Case, tamper: Optional[str], tally: dict) -> None:
    """Send `case` (with `tamper` applied to the request) and check the answer exactly."""
    encrypted = mode == "aes"
    params, payload = _request(wx, case.body, mode, tamper)
    r = _send(c, params, payload)
    if tamper:
        status, reason = TAMPER[mode][tamper]
        assert (r.status_code, r.text[:len(reason)]) == (status, reason), (tamper, r.text[:200])
        return
    if case.status != 200:
        reason = UNDECRYPTABLE if encrypted and case.status == 400 and not _utf8(case.body) else case.reason
        assert (r.status_code, r.text) == (case.status, reason), (case.why, case.body[:200], r.text[:200])
        assert r.headers["content-type"].startswith("text/plain")
        return
    first = _reply(r, case, encrypted, params["nonce"], wx.crypto)
    if case.text:
        tally["text"] = tally.get("text", 0) + 1
        tally["replied"] = tally.get("replied", 0) + (first is not None)
    if case.twice:  # WeChat's retry (the very same request): the stored reply or "success", not a new turn
        again = _reply(_send(c, params, payload), case, encrypted, params["nonce"], wx.crypto)
        assert again is None or again == first, (first, again)


def _run(srv, mode: str, cases, examples: int) -> dict:
    """`examples` (case, tamper) pairs from `cases` through `_exchange`; what was tallied."""
    wx, tally = platform_for(srv), {}
    with srv.client() as c:
        @fast(examples)
        @given(cases)
        def run(pair):
            _exchange(c, wx, mode, *pair, tally)
        run()
    assert "Traceback" not in srv.log(), srv.log()[-3000:]  # nothing was caught and logged either
    return tally


@pytest.mark.parametrize("mode, examples", [("raw", 200), ("aes", 150)])
def test_generated_messages(srv, mode, examples):
    tally = _run(srv, mode, st.tuples(messages, st.none()), examples)
    # Not vacuous: many text messages, and (almost) all answered with a passive reply.
    assert tally.get("text", 0) >= examples // 5 and tally["replied"] >= 0.9 * tally["text"], tally


# Every refusal in both modes, a few examples each (drawn among all of them at random, the rarer
# ones would hardly ever come up): the message's defects, and the request's (signatures, age,
# the safe-mode envelope), which refuse even a well-formed message.
@pytest.mark.parametrize("mode, how", [(m, h) for m in ("raw", "aes") for h in DEFECTS + sorted(TAMPER[m])])
def test_each_refusal(srv, mode, how):
    if how in TAMPER[mode]:
        cases = st.tuples(well_formed(), st.just(how))
    else:
        cases = st.tuples(malformed(how), st.none())
    _run(srv, mode, cases, 4)


# ---------------------------------------------------------------- long conversations

# A complaint form walked through with long answers (random text, three bytes a character when
# Chinese) and then odd words at its summary, which quotes every answer back: each turn is a
# passive reply within one message, in both modes. (Answers from the corpus stay well inside
# 2048 bytes by design, knowledge/answer.py MAX_ANSWER; the forms are where the follower's own
# text comes back.)
hanzi = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)


def long_text(least: int, most: int):
    """Text of `least`..`most` characters, mostly Chinese, mostly near `most` (hypothesis alone
    keeps text short)."""
    seed = st.text(st.one_of(hanzi, hanzi, legal), min_size=1, max_size=12)
    return st.tuples(seed, st.integers(0, most - least)).map(lambda t: (t[0] * most)[:most - t[1]])


def looks_like(prefix: str, text, suffix: str = ""):
    """Random text that still shows its slot's kind (forms/rules/looks_like.yaml), so that the
    form takes it instead of asking again: the answers' length is what this test is about."""
    return text.map(lambda t: prefix + t + suffix)


complaints = st.tuples(
    pick(["我要投诉", "投诉举报", "举报培训机构"]),
    looks_like("", long_text(2, 54), "培训学校"),  # the institution
    pick(["乱收费", "虚假宣传", "8", "其他"]),
    looks_like("2021年", long_text(1, 35)),  # when
    pick(["1", "2", "济源", "郑州"]),
    looks_like("东昌府区", long_text(2, 96)),  # the place
    long_text(10, 1000),  # the description
    pick(["没有", "好了"]),
    pick(["匿名", "2"]),
    st.lists(pick(["更多", "更多", "继续", "1", "2", "返回", "取消", "确认"]), min_size=1, max_size=4),
).map(lambda t: [*t[:-1], *t[-1]])


def _text(openid: str, text: str) -> bytes:
    return _assemble([("ToUserName", _cdata("gh_test")), ("FromUserName", _cdata(openid)),
                      ("CreateTime", str(int(time.time()))), ("MsgType", _cdata("text")),
                      ("Content", _cdata(text)), ("MsgId", str(next(_nonces)))]).encode()


@pytest.mark.parametrize("mode", ["raw", "aes"])
def test_long_form_conversations(srv, mode):
    wx, summaries = platform_for(srv), []
    with srv.client() as c:
        @fast(8)
        @given(complaints)
        def run(texts):
            openid = new_openid("oConv")
            for text in texts:
                case = Case(_text(openid, text), source=openid, target="gh_test", text=True)
                params, payload = _request(wx, case.body, mode)
                reply = _reply(_send(c, params, payload), case, mode == "aes", params["nonce"], wx.crypto)
                assert reply is not None, text  # a text turn is always answered, within the deadline
                summaries.append(reply.startswith("请核对您的回答"))
        run()
    assert sum(summaries) >= 4, "the conversations did not reach the form's summary"
    assert "Traceback" not in srv.log(), srv.log()[-3000:]
