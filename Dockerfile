# gitrelay's container image: a static binary on a slim base with git, run
# as a non-root user, listening on 0.0.0.0:8080, with its data in /data.
#
#   docker build -t gitrelay --build-arg VERSION=1.2.3 .
#   docker run -p 8080:8080 -v gitrelay-data:/data gitrelay
#
# The build runs scripts/build, the same command a test runs on every
# change (cmd/gitrelay image_test.go), so the image cannot rot unseen.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
RUN GITRELAY_VERSION="$VERSION" scripts/build /out/gitrelay
# The data volume's mount point, owned by the user gitrelay runs as.
RUN mkdir -p /out/data

# Debian slim with git, which the index runs to read repositories (see
# docs/indexing.md), CA certificates and time zones; gitrelay runs as the
# unprivileged user 65532, whose home is the data volume.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 gitrelay \
 && useradd --uid 65532 --gid 65532 --home-dir /data --no-create-home --shell /usr/sbin/nologin gitrelay
COPY --from=build /out/gitrelay /gitrelay
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV GITRELAY_ADDR=0.0.0.0:8080 GITRELAY_DATA=/data HOME=/data
VOLUME /data
EXPOSE 8080
# GET /readyz through the binary itself: the image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/gitrelay", "healthcheck"]
ENTRYPOINT ["/gitrelay"]
CMD ["serve"]
