#!/usr/bin/env bash
# Builds the container image (as the original deployment's docker-build.sh
# did): ./docker-build.sh [TAG], default lrogate:latest. Needs a Docker engine.
set -euo pipefail
cd "$(dirname "$0")"
tag="${1:-lrogate:latest}"
docker build -t "$tag" .
echo "built $tag; run: docker run -p 8080:8080 -e AZURE_CU_ENDPOINT=... -e AZURE_CU_KEY=... $tag"
