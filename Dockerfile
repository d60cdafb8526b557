# pullpass: a small, non-root image running `pullpass serve`.
# Builder: build the project's wheel and install it with its dependencies into a venv.
# Final: the same Python base with only that venv copied in (no compiler; no pip in the venv).
# PYTHON_BASE: any Debian-style Python 3.11+ image with `python3` and its venv module: the official
# slim image by default, pinned by the digest of its multi-platform index (so a re-pushed tag
# changes nothing here), or the local Debian base scripts/images makes with no registry at hand.
ARG PYTHON_BASE=python:3.11.15-slim-trixie@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff

FROM ${PYTHON_BASE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY locks/build.txt locks/runtime.txt ./locks/
COPY scripts/sbom.py ./scripts/
COPY app ./app
# Every package comes from the locks (scripts/lock), each file checked against its hash: pip and
# the build backend into a throwaway venv (a Debian base has no pip of its own), which builds the
# wheel without fetching anything more; the dependencies, then the wheel alone, into
# /opt/pullpass, made --without-pip so the image carries no pip there. The Kubernetes client's
# asyncio twin (kubernetes/aio, about 68 MB) is never imported by pullpass, so it stays behind.
# The SBOM lists what /opt/pullpass then holds, read from the installed packages themselves.
RUN python3 -m venv /opt/build \
 && /opt/build/bin/pip install --require-hashes -r locks/build.txt \
 && /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /wheels . \
 && python3 -m venv --without-pip /opt/pullpass \
 && /opt/build/bin/pip --python /opt/pullpass/bin/python install --require-hashes -r locks/runtime.txt \
 && /opt/build/bin/pip --python /opt/pullpass/bin/python install --no-deps /wheels/*.whl \
 && rm -rf /opt/pullpass/lib/python3*/site-packages/kubernetes/aio \
 && /opt/pullpass/bin/python scripts/sbom.py > /opt/pullpass/sbom.cdx.json

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
