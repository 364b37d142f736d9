"""What the property tests share: hypothesis settings (a few hundred derandomized examples, no
deadline: a real server answers over HTTP) and the one rule every route keeps — whatever comes
in, never a 5xx, and a JSON refusal gives its reason in Chinese."""
from __future__ import annotations

import re

import httpx
from hypothesis import HealthCheck, settings

EXAMPLES = 300
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def fast(max_examples: int = EXAMPLES) -> settings:
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


FAST = fast()


def no_5xx(r: httpx.Response) -> None:
    assert r.status_code < 500, (r.request.method, str(r.request.url)[:300], r.status_code, r.text[:300])
    if r.status_code >= 400 and r.headers.get("content-type", "").startswith("application/json"):
        detail = r.json().get("detail")
        assert isinstance(detail, str) and CHINESE.search(detail), detail
