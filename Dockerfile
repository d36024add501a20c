# syntax=docker/dockerfile:1
#
# gitops-bot images. The binary is linked statically (glibc, crt-static), so the default image
# is the binary alone on `scratch`, plus CA certificates and a non-root user.
# `.ci/check-static-binary` proves on the host that the binary runs from such an empty root.
#
#   docker build \
#     --build-arg GITOPS_BOT_COMMIT="$(git rev-parse HEAD)" \
#     --build-arg SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)" \
#     --build-arg VERSION=0.1.0 \
#     --build-arg CREATED="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
#     --build-arg SOURCE_URL=https://gitlab.example.com/group/gitops-bot \
#     -t gitops-bot:0.1.0 .
#
# GitLab CI runs a job's `script:` through a shell, which `scratch` lacks: for a CI job's
# `image:` build the `ci` target (busybox + the same binary on PATH), tagged `-ci`:
#
#   docker build --target ci ...same --build-args... -t gitops-bot:0.1.0-ci .
#
# In GitLab CI: GITOPS_BOT_COMMIT=$CI_COMMIT_SHA (12 to 64 hex digits: not the 8 of
# CI_COMMIT_SHORT_SHA), SOURCE_DATE_EPOCH=$(git log -1 --format=%ct), VERSION=$CI_COMMIT_TAG,
# CREATED=$CI_COMMIT_TIMESTAMP, SOURCE_URL=$CI_PROJECT_URL.

ARG RUST_VERSION=1.95
ARG CI_BASE=busybox:1.37-musl

FROM rust:${RUST_VERSION}-bookworm AS build
# The commit shown by `--version` (.git is not in the build context), and the build date in
# seconds since the epoch for reproducible builds; both may be left empty.
ARG GITOPS_BOT_COMMIT=
ARG SOURCE_DATE_EPOCH=
# The Rust target; by default the builder's own (x86_64 or aarch64), so `--platform` works.
ARG TARGET=
# The cargo profile (keep it the same as PROFILE of .ci/check-static-binary).
ARG PROFILE=dist
WORKDIR /src
COPY . .
# --target makes crt-static apply to the binary only, not to build scripts and proc-macros.
# target/ and the registry are cache mounts, so the root filesystem is made in the same step
# (docker/make-rootfs: binary, CA bundle, users, /tmp; it stops here if the binary would need
# a loader or shared libraries).
RUN --mount=type=cache,id=gitops-bot-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=gitops-bot-target,target=/src/target,sharing=locked \
    target="${TARGET:-$(uname -m)-unknown-linux-gnu}" \
    && RUSTFLAGS="-C target-feature=+crt-static" \
        cargo build --profile "${PROFILE}" --locked --target "${target}" \
    && docker/make-rootfs "target/${target}/${PROFILE}/gitops-bot" /rootfs

# The root filesystem of both images. CI builds it from the static binary it has already
# built and puts it in place of this stage, without the rust image (.ci/check-image):
#   buildah build --build-context rootfs=DIR ...
FROM scratch AS rootfs
COPY --from=build /rootfs/ /

# The image for GitLab CI jobs: a static busybox shell, with gitops-bot on PATH. CI_BASE
# replaces the base where docker.io cannot be reached (.ci/check-image uses Debian's
# busybox-static).
FROM ${CI_BASE} AS ci
ARG VERSION=
ARG GITOPS_BOT_COMMIT=
ARG CREATED=
ARG SOURCE_URL=
LABEL org.opencontainers.image.title="gitops-bot (CI job image)" \
      org.opencontainers.image.description="GitOps deploys from GitLab CI: byte-preserving image bumps, MRs, comment approvals, sync. busybox shell for GitLab CI script: lines." \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GITOPS_BOT_COMMIT}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=rootfs /gitops-bot /usr/local/bin/gitops-bot
COPY --from=rootfs /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
RUN ln -s /usr/local/bin/gitops-bot /gitops-bot \
    && echo 'nonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh' >> /etc/passwd \
    && echo 'nonroot:x:65532:' >> /etc/group \
    && mkdir -p /home/nonroot \
    && chown 65532:65532 /home/nonroot \
    && gitops-bot --version
ENV HOME=/home/nonroot
USER 65532:65532
WORKDIR /home/nonroot
ENTRYPOINT []
CMD ["sh"]

# The default image: the binary alone.
FROM scratch
ARG VERSION=
ARG GITOPS_BOT_COMMIT=
ARG CREATED=
ARG SOURCE_URL=
LABEL org.opencontainers.image.title="gitops-bot" \
      org.opencontainers.image.description="GitOps deploys from GitLab CI: byte-preserving image bumps, MRs, comment approvals, sync" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${GITOPS_BOT_COMMIT}" \
      org.opencontainers.image.created="${CREATED}"
COPY --from=rootfs / /
USER 65532:65532
# `gitops-bot serve` listens here by default.
EXPOSE 8080
ENTRYPOINT ["/gitops-bot"]
