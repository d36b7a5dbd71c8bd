# syntax=docker/dockerfile:1
#
# neko: one static binary on a distroless, non-root base. Fly.io builds this (fly.toml [build]);
# locally: docker build --build-arg VERSION=$(git describe --always --dirty) -t neko .
#
# Stage 1 compiles with CGO disabled: the embedded database's SQLite is pure Go (modernc.org),
# so the binary needs no libc and runs on distroless/static.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0
# Module downloads first, so that editing code does not invalidate this layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/neko ./cmd/neko \
    && mkdir -p /out/data

# Stage 2: no shell, no package manager, CA certificates (Atlas, Upstash, OTLP over TLS) and
# tzdata included. The nonroot user is uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/neko /neko
# Writable directory for the embedded database. Production sets MONGODB_URI and never uses it;
# it exists so that `docker run` without MONGODB_URI can start on the embedded database (data is
# lost with the container). The image sets NEKO_ENV=production, which still requires JWT_SECRET
# and ADMIN_PASSWORD: `docker run -e JWT_SECRET=... -e ADMIN_PASSWORD=...`, or
# `-e NEKO_ENV=development` to try it locally with the development defaults.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV PORT=8080 \
    NEKO_ENV=production \
    NEKO_DATA_DIR=/data
EXPOSE 8080
# distroless has no curl: the binary checks itself (`neko healthcheck` GETs
# http://127.0.0.1:$PORT/health and exits 0 or 1). Fly.io ignores HEALTHCHECK and uses the checks
# in fly.toml; this one serves `docker run` and Compose.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["/neko", "healthcheck"]
ENTRYPOINT ["/neko"]
CMD ["serve"]
