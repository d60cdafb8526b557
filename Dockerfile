# pullpass: a small, non-root image running `pullpass serve`.
# Builder: build the project's wheel and install it with its dependencies into a venv.
# Final: the same Python base with only that venv copied in (no compiler; no pip in the venv).
# PYTHON_BASE: any Debian-style Python 3.11+ image with `python3` and its venv module: the official
# slim image by default, or the local Debian base scripts/images makes with no registry at hand.
ARG PYTHON_BASE=python:3.11.14-slim-trixie

FROM ${PYTHON_BASE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# A throwaway venv brings the pip that builds and installs (a Debian base has none of its own);
# /opt/pullpass is made --without-pip, so the image carries no pip there.
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip wheel --no-deps --wheel-dir /wheels . \
 && python3 -m venv --without-pip /opt/pullpass \
 && /opt/build/bin/pip --python /opt/pullpass/bin/python install /wheels/*.whl

FROM ${PYTHON_BASE}
LABEL org.opencontainers.image.title="pullpass" \
      org.opencontainers.image.description="Mutating admission webhook that gives every Pod the registry credentials in its scope" \
      org.opencontainers.image.licenses="Apache-2.0"
# Same path as in the builder, so the venv's scripts and its python symlink stay valid.
COPY --from=builder /opt/pullpass /opt/pullpass
ENV PATH=/opt/pullpass/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp
# A fixed numeric UID/GID (no passwd entry needed) so Kubernetes can check runAsNonRoot.
USER 65532:65532
EXPOSE 8443 8080
ENTRYPOINT ["pullpass"]
CMD ["serve"]
