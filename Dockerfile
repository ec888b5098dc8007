# syntax=docker/dockerfile:1
# Vigil CPU image. Two stages: the builder compiles TypeScript and node-rdkafka (librdkafka with zstd and GSSAPI);
# the runtime stage carries only production node_modules, dist/, bin/ and the Avro schemas.
# Checked without a Docker engine (no base image can be pulled here): test/unit/ops/dockerfiles.test.ts holds
# this file to the chart's expectations; see docs/operations.md, "Container images".
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential python3 libzstd-dev libsasl2-dev libssl-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY core core
COPY schemas schemas
COPY model model
COPY connector connector
COPY synth synth
COPY cli cli
COPY bench bench
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libzstd1 libsasl2-2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY bin bin
COPY schemas/*.avsc schemas/
# Numeric uid (the image's `node` user), so Kubernetes' runAsNonRoot can verify it; the chart runs as 1000 too.
USER 1000:1000
EXPOSE 9464
# Exec form, node as PID 1: SIGTERM reaches Vigil itself, which stops fetching, drains, flushes, commits and
# leaves the group (cli/main.ts). No HEALTHCHECK: Kubernetes probes /healthz and /readyz (helm/vigil).
ENTRYPOINT ["node", "bin/vigil.js"]
CMD ["run", "--config", "/etc/vigil/vigil.yaml"]
