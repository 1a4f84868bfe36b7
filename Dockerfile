# syntax=docker/dockerfile:1
#
# Switchyard gateway image.
#   docker build -t switchyard .
#   docker run -p 8080:8080 -e SWITCHYARD_DEV_KEY=$(openssl rand -hex 24) switchyard   # bundled demo config
#   docker run -p 8080:8080 -e OPENAI_API_KEY \
#     -v "$PWD/examples:/etc/switchyard:ro" -e SWITCHYARD_CONFIG=/etc/switchyard/openai.yaml switchyard
#
# Config: $SWITCHYARD_CONFIG if set, else /app/config/gateway.yaml (the bundled default; a file mounted
# there replaces it). Prefer mounting a *directory* and pointing SWITCHYARD_CONFIG into it: the
# gateway watches the config's directory, and a single-file bind mount stops seeing edits once an
# editor replaces the file on the host. Mounting over /app/config itself would also hide the
# built-in model catalog in /app/config/catalog.
#
# The bundled config listens on 0.0.0.0 here, so it refuses the public development key: pass
# SWITCHYARD_DEV_KEY (and SWITCHYARD_ADMIN_KEY for the admin API). Its embedded database lives in
# the /var/lib/switchyard volume; replicas share PostgreSQL and Redis instead (`stores:`).

# ---- build: compile TypeScript, then drop dev dependencies ----
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` (= build) needs the sources, copied below so this layer is cached
# across source changes; no dependency needs its install script (esbuild, used by tsx for
# `use: ./plugin.ts`, finds its platform binary through its optional dependencies).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY core ./core
COPY plugins ./plugins
COPY bin ./bin
# The config types generated from the schemas (type-only imports; nothing of them is in dist/).
COPY schemas/types ./schemas/types
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: compiled code, production dependencies, schemas and default config ----
FROM node:24-slim
ENV NODE_ENV=production \
    SWITCHYARD_LISTEN=0.0.0.0:8080 \
    SWITCHYARD_DATA_DIR=/var/lib/switchyard
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY schemas ./schemas
COPY config ./config
# The image's files stay root-owned and read-only to the process; it writes only to the data volume
# (PGlite, when the config uses the embedded database).
RUN mkdir -p /var/lib/switchyard && chown node:node /var/lib/switchyard
VOLUME /var/lib/switchyard
USER node
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8080/health').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"]
# Node runs as PID 1 and handles SIGTERM itself (drains in-flight requests for
# server.shutdown_timeout); give `docker stop -t` / the orchestrator's grace period more than that.
CMD ["node", "--max-semi-space-size=8", "bin/switchyard.js", "start"]
