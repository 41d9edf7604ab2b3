# otomi as a container image for CI pipelines: one static binary, non-root.
# docker build -t otomi .
# docker run --rm -v "$PWD:/repo" -e SOPS_AGE_KEY otomi validate-values --env-dir /repo

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/otomi/otomi/pkg/build.Version=${VERSION} -X github.com/otomi/otomi/pkg/build.Commit=${COMMIT}" \
      -o /out/otomi ./cmd/otomi

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/otomi /usr/local/bin/otomi
USER 65532:65532
WORKDIR /repo
ENV OTOMI_ENV_DIR=/repo
ENTRYPOINT ["/usr/local/bin/otomi"]
CMD ["--help"]
