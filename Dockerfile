# pullpass: a small, non-root image running `pullpass serve`.
# Builder: build the project's wheel and install it with its dependencies into a venv.
# Final: the same slim Python base with only that venv copied in (no compiler, no pip in the venv).

FROM python:3.11.14-slim-trixie AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
# --without-pip: the base image's pip installs into the venv, so the venv carries no pip.
RUN pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv --without-pip /opt/pullpass \
 && pip --python /opt/pullpass/bin/python install /wheels/*.whl

FROM python:3.11.14-slim-trixie
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
