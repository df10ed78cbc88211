# syntax=docker/dockerfile:1
# backline container image (docs/install.md): a static binary on
# distroless/static (CA certificates, tzdata, /etc/passwd with "nonroot";
# no shell, no package manager), running as uid 65532.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t backline .
#   docker run --rm -p 9080:9080 -v ./backline.yml:/etc/backline/backline.yml:ro \
#     -v ./api-token:/run/secrets/backline_api_token:ro backline

ARG GO_VERSION=1.26

# The builder runs natively and cross-compiles (docker buildx build
# --platform linux/amd64,linux/arm64): no emulation needed.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
# Modules first: this layer stays cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=
# The same flags as scripts/package: static, reproducible paths, the
# version from the build argument (else the module's, "(devel)").
# deploy/docker/backline.yml passes `check --no-secrets` in scripts/test-deploy.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
      go build -trimpath -ldflags "-s -w -buildid= -X main.version=${VERSION}" \
      -o /out/usr/bin/backline ./cmd/backline \
 && install -D -m 0644 deploy/docker/backline.yml /out/etc/backline/backline.yml \
 && install -d -m 0750 /out/var/lib/backline

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/usr/bin/backline /usr/bin/backline
COPY --from=build /out/etc/backline/ /etc/backline/
# The state directory as an item of the copy, so --chown applies to it.
COPY --from=build --chown=65532:65532 /out/var/lib/ /var/lib/
# Admin state (drain, maint, weights) survives restarts in a volume here,
# as under systemd's StateDirectory= (server.state_file's default).
ENV STATE_DIRECTORY=/var/lib/backline
VOLUME ["/var/lib/backline"]
USER 65532:65532
# server.address of the image's configuration. Listeners of the gateway or
# other ports you configure need their own -p/ports.
EXPOSE 9080
# No shell or curl here: backline probes its own /healthz (exec form).
# Change the port if your configuration moves server.address.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10s --retries=3 \
  CMD ["/usr/bin/backline", "probe", "--protocol", "http", "--host", "127.0.0.1", "--port", "9080", "--deep", "--request-uri", "/healthz", "--timeout", "5s"]
# SIGHUP reloads (docker kill --signal HUP), SIGTERM stops after
# server.shutdown_delay.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/backline"]
CMD ["serve", "--config", "/etc/backline/backline.yml"]
