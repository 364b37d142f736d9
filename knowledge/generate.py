"""Optional generated answers: a chat model rewrites the retrieved clauses into a short reply.

Why optional and guarded: the extractive answer is always correct about what the notice says;
a model only makes it read better. Its output is accepted only if it still cites the notice
(the 《title》 or the 文号 appears); on any error, timeout or missing citation the extractive
answer stands.
"""
from __future__ import annotations

import logging

from knowledge.types import Answer

log = logging.getLogger(__name__)

SYSTEM = ("你是职业技能提升行动政策咨询助手。只根据给出的政策原文回答，用简短、口语化的中文（不超过200字），"
          "必须保留出处：文件标题（用《》）和文号，以及适用地区；原文没有的内容不要编造；"
          "如果原文注明政策可能已失效，要提醒。")


def make_chat_model(settings):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(base_url=settings.llm.base_url, api_key=settings.llm.api_key or "none",
                      model=settings.llm.model, timeout=settings.llm.timeout, max_retries=0,
                      temperature=0)


def rewrite(model, question: str, extractive: Answer) -> Answer:
    if extractive.refused or not extractive.sources:
        return extractive
    clauses = "\n".join(
        f"- 原文：{s.excerpt}\n  出处：《{s.title}》{s.doc_number or ''}，{s.issuer or ''}，{s.date or ''}，"
        f"适用地区：{s.region or '未注明'}{'（可能已失效）' if s.expired else ''}"
        for s in extractive.sources)
    try:
        from langchain_core.messages import HumanMessage, SystemMessage

        reply = model.invoke([SystemMessage(SYSTEM), HumanMessage(f"问题：{question}\n\n政策原文：\n{clauses}\n\n"
                                                                  f"参考答复：\n{extractive.answer}")])
        text = (reply.content if hasattr(reply, "content") else str(reply)).strip()
    except Exception:
        log.warning("LLM rewrite failed; using the extractive answer", exc_info=True)
        return extractive
    primary = extractive.sources[0]
    from knowledge.answer import book_title

    cited = (book_title(primary.title) in text or f"《{primary.title}》" in text
             or bool(primary.doc_number and primary.doc_number in text))
    if not text or not cited:
        log.info("LLM answer dropped the citation; using the extractive answer")
        return extractive
    if primary.expired and "失效" not in text and "到期" not in text:
        warning = next((line for line in extractive.answer.splitlines() if "到期" in line), "")
        text = f"{text}\n{warning}".strip()
    return extractive.model_copy(update={"answer": text})
