# gitrelay's container image: a static binary on a minimal base, run as a
# non-root user, listening on 0.0.0.0:8080, with its data in /data.
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

# distroless/static: CA certificates, time zones, /etc/passwd with the
# user nonroot (65532); no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gitrelay /gitrelay
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV GITRELAY_ADDR=0.0.0.0:8080 GITRELAY_DATA=/data
VOLUME /data
EXPOSE 8080
# GET /readyz through the binary itself: the image has no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["/gitrelay", "healthcheck"]
ENTRYPOINT ["/gitrelay"]
CMD ["serve"]
