"""The periodic retry of kept customer-service pushes: a small asyncio task per worker.

Why: a push refused for quota (45047) or lost to a network error used to wait for the
follower's next message, which may never come — a staff reply to a complaint would then never
arrive. Every POLICYBOT_PUSH_RETRY_SECONDS (default 300; 0 = off) each worker runs
`push.retry_due` in a thread (the WeChat client is synchronous). Several workers sweeping at
once are safe: each message is claimed by a compare-and-set on its row before it is sent.
The first sweep comes one interval after the start, not at it, so a restart storm stays quiet.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Optional

from core.config import Settings
from bot.wechat import client as wx
from bot.wechat import push

log = logging.getLogger("policybot.wechat")


async def _loop(settings: Settings) -> None:
    while True:
        await asyncio.sleep(settings.push_retry_seconds)
        try:
            sent = await asyncio.to_thread(push.retry_due, settings)
            if sent:
                log.info("push retry: %d kept message(s) delivered", sent)
        except Exception:
            log.exception("push retry sweep failed")


def start(settings: Settings) -> Optional[asyncio.Task]:
    """Start the sweeper (from the app's lifespan); None when off or without WeChat credentials."""
    if settings.push_retry_seconds <= 0 or not wx.configured(settings):
        return None
    return asyncio.get_running_loop().create_task(_loop(settings), name="policybot-push-retry")


async def stop(task: Optional[asyncio.Task]) -> None:
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
