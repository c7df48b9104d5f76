# syntax=docker/dockerfile:1
# One image for every Suanli command:
#   docker run IMAGE operator ...    the ComputeJob operator
#   docker run IMAGE extender ...    the kube-scheduler extender
#   docker run IMAGE ui ...          the read-only web view
# Build:  docker build -t ghcr.io/suanli/suanli:0.1.0 .
ARG PYTHON_VERSION=3.12

# Build stage: wheels for Suanli and its dependencies, so the runtime stage needs no compiler,
# no pip cache and no source tree.
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
WORKDIR /src
# A C compiler for the decider's hot modules, compiled with mypyc (hack/compile.sh); mypy runs
# from a virtualenv of its own, which the runtime stage leaves behind.
RUN apt-get update \
 && apt-get install --yes --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/* \
 && python -m venv /opt/build \
 && /opt/build/bin/pip install --no-cache-dir "mypy>=1.11,<3"
COPY pyproject.toml README.md ./
COPY operator/ operator/
COPY hack/compile.sh hack/
RUN python -m venv /opt/suanli \
 && /opt/suanli/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/suanli/bin/pip install --no-cache-dir . \
 && PYTHON=/opt/build/bin/python bash hack/compile.sh --in \
    "$(/opt/suanli/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \
    --for /opt/suanli/bin/python \
 && /opt/suanli/bin/pip uninstall --yes pip

# Runtime stage: the slim Python base and the virtualenv, nothing else.
FROM python:${PYTHON_VERSION}-slim-bookworm
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="suanli" \
      org.opencontainers.image.description="Compute-power scheduler for Kubernetes: ComputeJob operator and kube-scheduler extender" \
      org.opencontainers.image.source="https://github.com/suanli/suanli" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /opt/suanli /opt/suanli
# No bytecode writes (the chart mounts the root filesystem read-only), unbuffered logs.
ENV PATH=/opt/suanli/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# 65532 is the conventional "nonroot" id; numeric so that runAsNonRoot can verify it.
USER 65532:65532
WORKDIR /tmp
ENTRYPOINT ["suanli"]
CMD ["--help"]
