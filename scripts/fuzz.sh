#!/usr/bin/env bash
# The fuzz targets for longer: FUZZ_SECONDS per target (default 300).
set -euo pipefail
FUZZ_SECONDS="${FUZZ_SECONDS:-300}" exec bash "$(dirname "$0")/../.ci/fuzz.sh"
