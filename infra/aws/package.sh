#!/usr/bin/env bash
# Builds the Lambda deployment package for provided.al2023:
#   target/lambda/entra-monitor/bootstrap.zip
# with cargo-lambda (from PyPI, pinned, into .tools/lambda-venv; it cross-compiles with Zig).
# Usage: bash infra/aws/package.sh [arm64|x86_64]   (default arm64, Graviton)
set -euo pipefail
cd "$(dirname "$0")/../.."
arch="${1:-arm64}"
case "$arch" in
    arm64) flag=--arm64 ;;
    x86_64) flag=--x86-64 ;;
    *) echo "package.sh: the architecture is arm64 or x86_64, not \"$arch\"" >&2; exit 2 ;;
esac
if [ ! -x .tools/lambda-venv/bin/cargo-lambda ]; then
    python3 -m venv .tools/lambda-venv
    .tools/lambda-venv/bin/pip install --quiet "cargo-lambda==1.9.2"
fi
export PATH="$PWD/.tools/lambda-venv/bin:$PATH"
# For arm64 the target's standard library is needed once: rustup target add aarch64-unknown-linux-gnu
cargo lambda build --release -p entra-monitor --bin entra-monitor "$flag" --output-format zip
echo "package: target/lambda/entra-monitor/bootstrap.zip ($arch)"
