"""The `policybot` command: serve, migrate, backup, restore, ingest, ask, eval, wechat-menu, validate,
notices, tokens."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from bot import notices_cli, tokens_cli
from core.config import get_settings
from forms.validate import SHIPPED

app = typer.Typer(help="技能政策助手 policybot", no_args_is_help=True, add_completion=False)
app.add_typer(notices_cli.app, name="notices")  # list | show | withdraw | restore | edit | supersede
app.add_typer(tokens_cli.app, name="tokens")  # create | list | revoke (the work-order API)


def _kb():
    from knowledge.service import KnowledgeBase

    return KnowledgeBase.opened(get_settings())


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Start the web app (WeChat webhook, API, console, simulator)."""
    import uvicorn

    settings = get_settings()
    typer.echo(f"policybot: http://{host}:{port}/  (data: {settings.data_dir.resolve()})")
    if settings.simulator_enabled:
        typer.echo(f"  try it in a browser: http://{host}:{port}/simulator")
    # The app decides itself whose X-Forwarded-For to believe (POLICYBOT_TRUSTED_PROXIES, see
    # bot.web): uvicorn's own proxy-header rewriting would trust loopback behind its back.
    uvicorn.run("bot.app:create_app", factory=True, host=host, port=port, workers=workers,
                proxy_headers=False)


@app.command()
def migrate(
    to: str = typer.Option("head", "--to", help="the revision to reach (default: the newest)"),
) -> None:
    """Bring the database (SQLite in the data dir, or DATABASE_URL) to the newest schema revision;
    the server does this itself on start unless POLICYBOT_MIGRATE_ON_START is off."""
    from storage import migrate as migrations

    url = get_settings().db_url
    try:
        result = migrations.upgrade(url, to)
    except Exception as exc:  # unreachable server, a database it cannot adopt: say why, no traceback
        typer.echo(f"数据库迁移失败 (migration failed)：{exc}", err=True)
        raise typer.Exit(1)
    where = migrations.shown(url)
    if result.adopted:
        typer.echo(f"旧版本建立的数据库已纳入迁移 (adopted a database made before migrations) at {migrations.BASELINE}")
    if result.changed:
        typer.echo(f"数据库已升级 (upgraded)：{result.before or '（空）'} → {result.after}  {where}")
    else:
        typer.echo(f"数据库已是最新版本 (already at) {result.after}  {where}")


@app.command()
def backup(target: Path = typer.Argument(..., help="a new (or empty) directory for the backup")) -> None:
    """Back up the database (a consistent snapshot, also while the server runs) and the data dir's
    files into DIR, with a manifest; the index is rebuilt from them on restore."""
    from bot import backup as backups

    try:
        manifest = backups.backup(get_settings(), target)
    except Exception as exc:  # BackupError, an unreachable server: say why, no traceback
        typer.echo(f"备份失败 (backup failed)：{exc}", err=True)
        raise typer.Exit(1)
    counts = "，".join(f"{k} {v}" for k, v in manifest["counts"].items())
    typer.echo(f"备份完成 (backed up) {target}：结构版本 {manifest['revision']}，{counts}")


@app.command()
def restore(
    source: Path = typer.Argument(..., help="a directory written by `policybot backup`"),
    force: bool = typer.Option(False, "--force", help="empty a target that already holds data"),
) -> None:
    """Restore a backup into the configured database, data dir and vector store (stop the
    workers first); an older backup is migrated to the newest schema."""
    from bot import backup as backups

    try:
        counts = backups.restore(get_settings(), source, force=force)
    except Exception as exc:
        typer.echo(f"恢复失败 (restore failed)：{exc}", err=True)
        raise typer.Exit(1)
    typer.echo("恢复完成 (restored)：" + "，".join(f"{k} {v}" for k, v in counts.items()))


@app.command()
def ingest(paths: List[Path]) -> None:
    """Add or update notices (txt, md, docx, pdf)."""
    kb = _kb()
    report = kb.ingest(paths)
    for name, status in report.items():
        typer.echo(f"{status}\t{name}")


@app.command()
def ask(question: str, region: Optional[str] = None, as_json: bool = typer.Option(False, "--json")) -> None:
    """Ask a question; prints the answer with its sources."""
    from knowledge.render import render_answer

    ans = _kb().ask(question, region=region)
    if as_json:
        typer.echo(json.dumps(ans.model_dump(), ensure_ascii=False, indent=2))
        return
    typer.echo(render_answer(ans))  # as a follower reads it, with the same 来源 lines


@app.command("eval")
def eval_(
    file: Path = typer.Argument(..., help="questions, JSONL: q, must, gold"),
    refuse: Optional[Path] = typer.Option(None, "--refuse", help="questions to refuse, JSONL: q"),
    synonyms: bool = typer.Option(True, "--synonyms/--no-synonyms", help="use knowledge/synonyms.yaml"),
    compare: bool = typer.Option(False, "--compare", help="run with and without synonyms"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="print every miss"),
) -> None:
    """Measure answers: right/total, refusals, p50/p95 latency."""
    from knowledge.evaluation import read_jsonl, run_eval

    kb = _kb()
    qa = read_jsonl(file)
    refusals = read_jsonl(refuse) if refuse else []
    kb.ask("预热")  # load the models before timing
    modes = [True, False] if compare else [synonyms]
    for mode in modes:
        report = run_eval(kb, qa, refusals, use_synonyms=mode)
        typer.echo(report.summary("synonyms on" if mode else "synonyms off"))
        if verbose:
            for miss in report.misses:
                typer.echo("  miss: " + json.dumps(miss, ensure_ascii=False))


@app.command("wechat-menu")
def wechat_menu(
    file: Optional[Path] = typer.Option(None, "--file", help="menu JSON (default: deploy/wechat-menu.json)"),
) -> None:
    """Push the official account's custom menu through the WeChat API."""
    from bot.wechat import menu
    from storage.db import init_db

    settings = get_settings()
    if not (settings.wechat.appid and settings.wechat.secret):
        typer.echo("需要设置 WECHAT_APPID 和 WECHAT_SECRET", err=True)
        raise typer.Exit(2)
    settings.ensure_dirs()
    # the access token is kept in the database, shared with the server
    init_db(settings.db_url, upgrade=settings.migrate_on_start)
    try:
        result = menu.push_menu(settings, file)
    except Exception as exc:  # WeChat refused or unreachable: say why, no traceback
        typer.echo(f"菜单推送失败：{exc}", err=True)
        raise typer.Exit(1)
    typer.echo(f"菜单已推送（{(file or menu.menu_path())}）：{json.dumps(result, ensure_ascii=False)}")


@app.command()
def validate(
    root: Path = typer.Option(SHIPPED, "--root", help="the checkout whose data to check (forms/, deploy/, knowledge/corpus/)"),
    routing: Optional[Path] = typer.Option(None, "--routing", help="routing rules (default: ROOT/deploy/routing.yaml)"),
) -> None:
    """Check forms, rules, choice sets, notices and routing against their schemas and each other;
    exit 1 naming each problem's file and line."""
    from bot.dialog import wiring
    from forms import registry
    from forms.validate import validate_tree

    wiring.wire()  # the bot's form actions (file_complaint) join the built-in ones
    problems = validate_tree(root, actions=registry.ACTIONS, routing=routing)
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        typer.echo(f"{len(problems)} problem(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"no problems in {root}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
