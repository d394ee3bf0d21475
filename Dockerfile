# The aiflow image: server, scheduler, migrations and the job runtime (python -m aiflow.runtime),
# with the web dashboard built in. helm/aiflow deploys it; the Kubernetes deployer runs jobs in it.
#
#   docker build -t aiflow:0.1.0 .                          # postgres + mysql drivers
#   docker build -t aiflow:0.1.0-flink --build-arg EXTRAS=flink .   # + the Flink engine and a JRE
#
# Stages: `web` builds the dashboard with Node, `builder` builds aiflow's wheel (dashboard inside)
# and installs it with its dependencies into a virtualenv, the final stage copies that virtualenv
# onto a clean Python image: no compilers, no Node, no sources. Base images are pinned by exact
# version; pin them by digest too (FROM image:tag@sha256:...) where your registry policy asks.
# It runs as uid 10001 with $HOME = $AIFLOW_HOME = /home/aiflow, the one directory it writes
# besides /tmp: the chart mounts both as emptyDir volumes under a read-only root filesystem.

ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm
ARG NODE_IMAGE=node:22.12.0-bookworm-slim

# --- web dashboard (web/ -> aiflow/server/dashboard_dist) -------------------------------------
FROM ${NODE_IMAGE} AS web
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
# the API client is generated from the committed OpenAPI document
COPY docs/openapi.json /src/docs/openapi.json
COPY web/ ./
RUN npm run build

# --- aiflow's wheel, installed with its dependencies into /opt/aiflow --------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY aiflow/ aiflow/
COPY translators/ translators/
COPY deployers/ deployers/
COPY metastore_migrations/ metastore_migrations/
COPY --from=web /src/aiflow/server/dashboard_dist/ aiflow/server/dashboard_dist/
RUN pip wheel --no-deps --wheel-dir /dist .
# EXTRAS: optional extras on top of the database drivers, comma-separated (flink).
ARG EXTRAS=""
RUN python -m venv /opt/aiflow \
    && wheel="$(ls /dist/aiflow-*.whl)" \
    && /opt/aiflow/bin/pip install "${wheel}[postgres,mysql${EXTRAS:+,${EXTRAS}}]"

# --- the image -------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE}
ARG EXTRAS=""
LABEL org.opencontainers.image.title="aiflow" \
      org.opencontainers.image.description="aiflow server, scheduler and job runtime" \
      org.opencontainers.image.licenses="Apache-2.0"
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The Flink engine runs Flink's JVM: Debian's headless JRE 17 (Flink 2.x supports 11-21).
# Debian's package versions are not pinned: the archive drops superseded (security-fixed)
# versions, so a pinned one stops building; the base image's tag fixes the release.
# hadolint ignore=DL3008
RUN if [[ ",${EXTRAS}," == *",flink,"* ]]; then \
        apt-get update \
        && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --gid 10001 aiflow \
    && useradd --uid 10001 --gid 10001 --home-dir /home/aiflow --create-home \
        --shell /usr/sbin/nologin aiflow
COPY --from=builder /opt/aiflow /opt/aiflow
ENV PATH=/opt/aiflow/bin:${PATH} \
    HOME=/home/aiflow \
    AIFLOW_HOME=/home/aiflow \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /home/aiflow
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["aiflow"]
CMD ["server", "--host", "0.0.0.0"]
