# The fleetwave image: CLI, worker and simulator in one (docker-compose.yml runs it as both).
#   docker build -t fleetwave:dev .
#   docker run --rm fleetwave:dev plan -f examples/campaign.yaml --fleet examples/fleet.yaml
# TypeScript runs through tsx (a runtime dependency), as `npx fleetwave` does after `npm ci`.
# Node.js 24 (LTS). Pin by digest for reproducible builds:
#   docker build --build-arg NODE_IMAGE=node:24-slim@sha256:<digest> -t fleetwave:dev .
ARG NODE_IMAGE=node:24-slim
FROM ${NODE_IMAGE}

WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# Dependencies first, so code changes reuse this layer. Dev dependencies (tsc, eslint, vitest) stay out.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY . .

# The workflow bundle, built once here: the worker loads it instead of bundling at every start.
RUN node --import tsx scripts/bundle-workflows.ts --out /app/workflow-bundle.js
ENV FLEETWAVE_WORKFLOW_BUNDLE=/app/workflow-bundle.js

# The node image's unprivileged user (uid 1000). tsx keeps its compile cache in /tmp, the only
# place written at run time, so the root filesystem can be read-only (the Helm chart makes it so).
USER node

# `node bin/fleetwave.mjs` rather than `npx fleetwave`: no npm process between the container
# runtime and the worker, so SIGTERM reaches the worker directly and it drains.
ENTRYPOINT ["node", "/app/bin/fleetwave.mjs"]
CMD ["--help"]
