# zcells: two-stage image. The builder makes wheels (torch from the CPU index by default);
# the runtime installs them as a non-root user and serves app.wsgi:server with gunicorn.
#
#   docker build -t zcells .                                  # CPU torch (default)
#   docker build -t zcells:gpu --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu124 .
#
# torch comes from TORCH_INDEX (the CPU-only index keeps the image ~1 GB smaller than the
# CUDA build on PyPI); everything else from PyPI.

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS builder
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
RUN python -m pip install --upgrade pip wheel
COPY pyproject.toml README.md ./
COPY compute ./compute
COPY app ./app
RUN pip wheel --wheel-dir /wheels --index-url ${TORCH_INDEX} "torch>=2.2"
RUN pip wheel --wheel-dir /wheels --find-links /wheels --extra-index-url ${TORCH_INDEX} .

FROM python:${PYTHON_VERSION}-slim AS runtime
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 \
    ZCELLS_ARTIFACTS=/data/artifacts \
    ZCELLS_CACHE_DIR=/tmp/zcells-cache ZCELLS_CUTOUT_CACHE_DIR=/tmp/zcells-cutouts \
    GUNICORN_CMD_ARGS="--workers 2 --threads 4 --timeout 120 --access-logfile -"
RUN groupadd --system zcells && useradd --system --gid zcells --create-home zcells \
    && mkdir -p /data /srv/zcells && chown zcells:zcells /data
COPY --from=builder /wheels /wheels
RUN pip install --no-index --find-links /wheels zcells && rm -rf /wheels
USER zcells
WORKDIR /srv/zcells
VOLUME ["/data"]
EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8050/healthz', timeout=4)"
CMD ["gunicorn", "--bind", "0.0.0.0:8050", "--preload", "app.wsgi:server"]
