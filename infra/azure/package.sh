#!/usr/bin/env bash
# Assembles the Azure Functions app folder (custom handler, Linux):
#   target/azure-app/{host.json, entra-monitor, <FunctionName>/function.json}
# and zips it to target/azure-app.zip for `az functionapp deployment source config-zip`.
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release -p entra-monitor
app=target/azure-app
rm -rf "$app" target/azure-app.zip
mkdir -p "$app"
cp host.json "$app/"
cp target/release/entra-monitor "$app/"
# The function.json files come from the registry; the tests check the committed copies.
target/release/entra-monitor function-json --out "$app"
(cd "$app" && python3 -m zipfile -c ../azure-app.zip .)
echo "app folder: $app; package: target/azure-app.zip"
