#!/usr/bin/env bash
# Builds the entra-pipeline code location into one folder: a virtualenv with the project and the
# Kubernetes/PostgreSQL/object-store libraries, and a read-only home holding connectors.yaml.
#
# deploy/Dockerfile runs exactly this (as its one RUN of substance), and CI runs it as a plain
# script into a temporary folder (entra_pipeline_tests/test_deploy_files.py), so what the image
# contains is tested without a Docker engine.
#
#   deploy/build.sh SOURCE PREFIX CONFIG
#     SOURCE  the project checkout (holds pyproject.toml)
#     PREFIX  where to build: PREFIX/venv and PREFIX/home (the image uses /opt/entra-pipeline)
#     CONFIG  a folder holding connectors.yaml (configuration as code: the connectors this
#             code location serves; deploy/config/ by default in the Dockerfile)
#
#   Environment:
#     PYTHON                 the interpreter for the virtualenv (default: python3)
#     ENTRA_PIPELINE_EXTRAS  the project's extras to install (default: postgres,azure): postgres for
#                            Dagster's storage and the connector store, one object-store extra for
#                            ENTRA_PIPELINE_DATA (azure, s3 or gcs)
#     pip's own variables (PIP_NO_CACHE_DIR, PIP_INDEX_URL, ...) pass through.
set -euo pipefail

if [ "$#" -ne 3 ]; then
  sed -n '5,20p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
source_dir=$(cd "$1" && pwd)
prefix=$2
config_dir=$(cd "$3" && pwd)
python=${PYTHON:-python3}
extras=${ENTRA_PIPELINE_EXTRAS:-postgres,azure}

[ -f "$source_dir/pyproject.toml" ] || { echo "build.sh: no pyproject.toml in $source_dir" >&2; exit 2; }
[ -f "$config_dir/connectors.yaml" ] || {
  echo "build.sh: no connectors.yaml in $config_dir: create one with" \
       "\`entra-pipeline connector add --home $config_dir ...\` (deploy/README.md)" >&2; exit 2; }

mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)

# Build from a copy holding only what the package needs: an in-tree build would leave build/ and
# egg-info folders in the checkout, and nothing else in it (tests, benchmarks, .venv) belongs in
# the image.
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
cp "$source_dir/pyproject.toml" "$source_dir/README.md" "$staging/"
cp -R "$source_dir/entra_pipeline" "$staging/entra_pipeline"
find "$staging" -name '__pycache__' -type d -prune -exec rm -rf {} +
for license in "$source_dir"/LICENSE*; do [ -e "$license" ] && cp "$license" "$staging/"; done

"$python" -m venv "$prefix/venv"
# dagster-k8s is what the K8sRunLauncher's Jobs and the code server need to talk to the cluster
# (Dagster's Kubernetes guide: the user code image installs dagster, dagster-postgres and
# dagster-k8s); the 0.29 series is the one released with Dagster 1.13, like dagster-postgres.
"$prefix/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  "$staging[$extras]" "dagster-k8s>=0.29,<0.30"

# Fails the build, not the first pod, if a library is missing.
"$prefix/venv/bin/python" -c 'import entra_pipeline.definitions, dagster_postgres, dagster_k8s'

# The home folder: connectors.yaml only. The key comes from ENTRA_PIPELINE_KEY, the store from
# ENTRA_PIPELINE_STORE and snapshot data goes to ENTRA_PIPELINE_DATA, so nothing is ever written
# here. Owner-only, as the code expects of a home that holds (encrypted) client secrets: the
# Dockerfile gives it to the image's user.
mkdir -p "$prefix/home"
cp "$config_dir/connectors.yaml" "$prefix/home/connectors.yaml"
chmod 0400 "$prefix/home/connectors.yaml"
chmod 0500 "$prefix/home"

# A connectors.yaml that does not validate fails here, naming the connector and the field.
"$prefix/venv/bin/python" - "$prefix/home" <<'PY'
import sys
from pathlib import Path

from entra_pipeline.config import ConfigError, load_connectors

try:
    connectors = load_connectors(Path(sys.argv[1]))
except ConfigError as error:
    sys.exit(f"build.sh: {error}")
print(f"build.sh: {len(connectors)} connector(s) in connectors.yaml:",
      ", ".join(c.name for c in connectors) or "none")
PY
