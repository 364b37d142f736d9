"""The `policybot` command: serve, ingest, ask, eval, wechat-menu."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from bot.settings import get_settings

app = typer.Typer(help="技能政策助手 policybot", no_args_is_help=True, add_completion=False)


def _kb():
    from knowledge.service import KnowledgeBase
    from storage.db import init_db

    settings = get_settings()
    settings.ensure_dirs()
    init_db(settings)
    kb = KnowledgeBase(settings)
    kb.ensure_indexed()
    return kb


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Start the web app (WeChat webhook, API, console, simulator)."""
    import uvicorn

    settings = get_settings()
    typer.echo(f"policybot: http://{host}:{port}/  (data: {settings.data_dir.resolve()})")
    if settings.simulator_enabled:
        typer.echo(f"  try it in a browser: http://{host}:{port}/simulator")
    uvicorn.run("bot.app:create_app", factory=True, host=host, port=port, workers=workers)


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
    ans = _kb().ask(question, region=region)
    if as_json:
        typer.echo(json.dumps(ans.model_dump(), ensure_ascii=False, indent=2))
        return
    typer.echo(ans.answer)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
