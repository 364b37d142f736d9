"""`policybot notices list|show|withdraw|restore|edit|supersede`: the notice lifecycle from a shell,
with the same rules as the console and the JSON API (bot/notice_admin.py).

Why a typer sub-app of its own: bot/cli.py lists the product's commands; these are one admin
task with six verbs. The running server follows every change within a second (the index
version in the database moves); the audit trail names `cli:<login name>` unless --actor says.
A refusal prints its Chinese reason and exits 1.
"""
from __future__ import annotations

import getpass
import json
from typing import Optional

import typer

from core.config import get_settings

app = typer.Typer(help="政策文件：列表、撤回、恢复、修改、替代", no_args_is_help=True, add_completion=False)


def _actor(actor: Optional[str]) -> str:
    if actor:
        return actor
    try:
        return "cli:" + getpass.getuser()
    except Exception:  # no login name (a container): still say where it came from
        return "cli"


ACTOR = typer.Option(None, "--actor", help="who the audit trail names (default cli:<login name>)")
REASON = typer.Option("", "--reason", help="why (kept in the audit trail)")


def _run(fn, *args, **kw):
    from bot import notice_admin
    from knowledge.service import KnowledgeBase

    kb = KnowledgeBase.opened(get_settings())
    try:
        return fn(notice_admin, kb, *args, **kw)
    except notice_admin.LifecycleError as exc:
        typer.echo(f"未执行：{exc.message}", err=True)
        raise typer.Exit(1)


def _line(n: dict) -> str:
    bits = [str(n["id"]), n["status"], n["file"], n["doc_number"] or "-", n["date"] or "-", n["region"] or "-",
            n["title"]]
    if n.get("superseded_by"):
        bits.append(f"(被 {n['superseded_by']} 替代)")
    return "\t".join(bits)


def _echo(result: dict, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    typer.echo(_line(result["notice"]))
    for rule in result.get("affected_rules", []):
        typer.echo(f"  引用它的规则：{rule['rule_set']}/{rule['rule']}：{rule['text']}")


@app.command("list")
def list_(as_json: bool = typer.Option(False, "--json"),
          status: Optional[str] = typer.Option(None, "--status", help="only this status: 生效|已过期|已被替代|已撤回")) -> None:
    """Every notice: id, status, file, 文号, date, region, title."""
    notices = _run(lambda admin, kb: admin.listing(kb))
    if status:
        notices = [n for n in notices if n["status"] == status]
    if as_json:
        typer.echo(json.dumps(notices, ensure_ascii=False, indent=2))
        return
    for n in notices:
        typer.echo(_line(n))


@app.command()
def show(notice_id: int, as_json: bool = typer.Option(False, "--json")) -> None:
    """One notice: metadata, versions, audit trail (--json: also its chunks)."""
    found = _run(lambda admin, kb: admin.detail(kb, notice_id))
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    _echo(found, False)
    for s in found["suggestions"]:
        typer.echo(f"  建议：可能替代 {s['notice_id']}《{s['title']}》——“{s['quote']}”")
    for v in found["versions"]:
        typer.echo(f"  第{v['number']}版\t{v['at']}\t{v['actor']}\t{v['chunks']}段\t+{v['added']} -{v['removed']}")
    for e in found["events"]:
        typer.echo(f"  {e['at']}\t{e['actor']}\t{e['action_label']}\t{e['field_label'] or ''}"
                   f"\t{e['old'] or ''} → {e['new'] or ''}\t{e['reason']}")


@app.command()
def withdraw(notice_id: int, reason: str = typer.Option(..., "--reason", help="why (required)"),
             actor: Optional[str] = ACTOR, as_json: bool = typer.Option(False, "--json")) -> None:
    """Withdraw: from now on no answer quotes it (every worker, after restarts too)."""
    _echo(_run(lambda admin, kb: admin.withdraw(kb, notice_id, reason, _actor(actor))), as_json)


@app.command()
def restore(notice_id: int, reason: str = REASON, actor: Optional[str] = ACTOR,
            as_json: bool = typer.Option(False, "--json")) -> None:
    """Back in force: undo a withdrawal (or, when not withdrawn, a supersession)."""
    _echo(_run(lambda admin, kb: admin.restore(kb, notice_id, _actor(actor), reason)), as_json)


@app.command()
def supersede(notice_id: int, by: int = typer.Option(..., "--by", help="id of the notice that replaces it"),
              reason: str = REASON, actor: Optional[str] = ACTOR,
              as_json: bool = typer.Option(False, "--json")) -> None:
    """Mark NOTICE_ID as replaced by --by: answers quote the new one."""
    _echo(_run(lambda admin, kb: admin.supersede(kb, notice_id, by, _actor(actor), reason)), as_json)


@app.command()
def edit(
    notice_id: int,
    title: Optional[str] = typer.Option(None, "--title"),
    doc_number: Optional[str] = typer.Option(None, "--doc-number", help="文号 ('' clears it)"),
    issuer: Optional[str] = typer.Option(None, "--issuer"),
    date: Optional[str] = typer.Option(None, "--date", help="YYYY-MM-DD ('' clears it)"),
    region: Optional[str] = typer.Option(None, "--region", help="e.g. 聊城 or '山东 聊城'"),
    valid_until: Optional[str] = typer.Option(None, "--valid-until", help="YYYY-MM-DD ('' clears it)"),
    reason: str = REASON, actor: Optional[str] = ACTOR, as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Set metadata the extractor missed or got wrong; answers and citations use it at once."""
    given = {"title": title, "doc_number": doc_number, "issuer": issuer, "date": date, "region": region,
             "valid_until": valid_until}
    changes = {k: v for k, v in given.items() if v is not None}
    if not changes:
        typer.echo("请至少给出一个要修改的字段（--title、--doc-number、--issuer、--date、--region、--valid-until）", err=True)
        raise typer.Exit(2)
    _echo(_run(lambda admin, kb: admin.edit(kb, notice_id, changes, _actor(actor), reason)), as_json)
