#!/usr/bin/env bash
# `npm run demo`: installs the workspace, starts the infrastructure and runs the demo provider with the
# whole pipeline. Ctrl-C stops the services; `pnpm infra:down` stops the infrastructure.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-node.sh
source scripts/ensure-pnpm.sh
pnpm install --frozen-lockfile
pnpm infra:up >/dev/null
exec node --import tsx scripts/demo.ts
