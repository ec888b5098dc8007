# syntax=docker/dockerfile:1
# Vigil container image, built on the current Node.js LTS (24). The builder compiles TypeScript and
# node-rdkafka (librdkafka, with zstd and GSSAPI support); the runtime image carries only what runs.

FROM node:24-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential python3 libzstd-dev libsasl2-dev libssl-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY core core
COPY schemas schemas
COPY model model
COPY connector connector
COPY synth synth
COPY cli cli
COPY bench bench
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libzstd1 libsasl2-2 ca-certificates tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY bin bin
COPY schemas/*.avsc schemas/
USER node
EXPOSE 9464
# tini forwards SIGTERM so the service drains, flushes and commits before the pod goes away.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/vigil.js"]
CMD ["run", "--config", "/etc/vigil/vigil.yaml"]
