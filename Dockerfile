# The fleetwave image: CLI, worker and simulator in one (docker-compose.yml runs it as both).
#   docker build -t fleetwave:dev .
#   docker run --rm fleetwave:dev plan -f examples/campaign.yaml --fleet examples/fleet.yaml
# Two stages: the first installs everything and compiles dist/ (npm run build) and the workflow
# bundle; the image itself gets production dependencies only (`npm ci --omit=dev`: no tsx, tsc,
# vitest or @temporalio/testing) and runs the compiled JavaScript.
# Node.js 24 (LTS). Pin by digest for reproducible builds:
#   docker build --build-arg NODE_IMAGE=node:24-slim@sha256:<digest> -t fleetwave:dev .
ARG NODE_IMAGE=node:24-slim
FROM ${NODE_IMAGE} AS build

WORKDIR /src
ENV NPM_CONFIG_UPDATE_NOTIFIER=false
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# dist/ (the library, CLI and worker as JavaScript), then the workflow bundle from it: built once
# here, the worker loads it instead of bundling at every start.
RUN npm run -s build && node dist/scripts/bundle-workflows.js --out /src/workflow-bundle.js

FROM ${NODE_IMAGE}

WORKDIR /app
ENV NODE_ENV=production \
    NPM_CONFIG_UPDATE_NOTIFIER=false

# Dependencies first, so code changes reuse this layer. Dev dependencies stay out.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY --from=build /src/dist ./dist
COPY --from=build /src/workflow-bundle.js ./workflow-bundle.js
COPY bin ./bin
COPY examples ./examples
COPY schema ./schema
ENV FLEETWAVE_WORKFLOW_BUNDLE=/app/workflow-bundle.js

# The node image's unprivileged user (uid 1000). Nothing is written at run time, so the root
# filesystem can be read-only (the Helm chart makes it so).
USER node

# `node bin/fleetwave.mjs` rather than `npx fleetwave`: no npm process between the container
# runtime and the worker, so SIGTERM reaches the worker directly and it drains. Without sources
# in the image it runs dist/client/cli.js.
ENTRYPOINT ["node", "/app/bin/fleetwave.mjs"]
CMD ["--help"]
