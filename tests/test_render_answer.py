"""One renderer (`knowledge.render.render_answer`): the Q&A reply, a question asked inside a form
and `policybot ask` show an answer and its 来源 lines the same way; a side answer is cut so that
its 来源 and the repeated question still fit one 2048-byte reply."""
from __future__ import annotations

from typer.testing import CliRunner

from bot import cli
from bot.dialog.answers import format_answer
from forms.render import SideQuestion
from knowledge.render import render_answer, source_line
from knowledge.types import Answer, Source

NOTICE = Source(file="003", title="关于做好以工代训工作的通知", doc_number="鲁人社字〔2021〕33号",
                issuer="山东省人力资源和社会保障厅", date="2021-03-18", region="山东", expired=True)
OTHER = Source(file="005", title="聊城市职业技能提升行动实施方案", region="山东 聊城")
ANSWER = Answer(answer="按吸纳人数给予企业每月500元/人的以工代训补贴。", sources=[NOTICE, OTHER])
CITED = ("按吸纳人数给予企业每月500元/人的以工代训补贴。\n\n来源：\n"
         "《关于做好以工代训工作的通知》（鲁人社字〔2021〕33号，山东省人力资源和社会保障厅，2021-03-18）【已失效】\n"
         "《聊城市职业技能提升行动实施方案》")


def test_the_citation_is_built_one_way():
    assert source_line(NOTICE) == "《关于做好以工代训工作的通知》（鲁人社字〔2021〕33号，山东省人力资源和社会保障厅，2021-03-18）【已失效】"
    assert source_line(Source(file="x.txt", title="")) == "x.txt"
    assert render_answer(ANSWER) == CITED
    # the Q&A reply adds only the one line inviting 没用 (bot/feedback.py) to a plain answer
    assert format_answer(ANSWER, "山东 聊城") == CITED + "\n\n没帮上？回复“没用”"
    named = Answer(answer="依据《聊城市职业技能提升行动实施方案》……", sources=[OTHER])
    assert render_answer(named) == named.answer  # a source the text names is not listed again
    refused = Answer(answer="抱歉，没有找到。", refused=True, sources=[NOTICE])
    assert render_answer(refused) == "抱歉，没有找到。"


def test_side_question_shows_the_same_sources_and_fits():
    side = SideQuestion.inline("以工代训补贴多少？", tail="\n\n继续：企业规模是？")
    assert side.render(ANSWER) == CITED + side.tail
    long = ANSWER.model_copy(update={"answer": "以工代训补贴按规定发放。" * 200})
    reply = side.render(long)
    assert len(reply.encode()) <= 2048
    assert reply.endswith(CITED[CITED.index("\n\n来源："):] + side.tail)  # the text gave way, not the 来源
    assert "…\n\n来源：" in reply


def test_cli_ask_prints_the_rendered_answer(monkeypatch):
    class KB:
        def ask(self, question, region=None):
            return ANSWER

    monkeypatch.setattr(cli, "_kb", KB)
    result = CliRunner().invoke(cli.app, ["ask", "以工代训补贴多少？"])
    assert result.exit_code == 0 and result.output == CITED + "\n"
