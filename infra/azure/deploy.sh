#!/usr/bin/env bash
# From a clone to a running function app on Azure (Azure CLI signed in):
#   bash infra/azure/deploy.sh <resource group> <location> <app name> [--plan ElasticPremium] [--dry-run]
# 1. the resource group; 2. the ARM template (app, storage, identity, Application Insights, Log
# Analytics workspace, roles); 3. the package (bash infra/azure/package.sh) deployed as a zip;
# 4. the Graph permissions for the app's identity (grant-graph-permissions.sh). Sending logs to
# Log Analytics as well: deploy infra/log-analytics/tables-and-dcr.json into the workspace's
# group and give the printed principal Monitoring Metrics Publisher on the DCR.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ $# -lt 3 ]; then
    echo "usage: $0 <resource group> <location> <app name> [--plan ElasticPremium] [--dry-run]" >&2
    exit 2
fi
group="$1" location="$2" app="$3"
shift 3
plan=FlexConsumption dry_run=false
while [ $# -gt 0 ]; do
    case "$1" in
        --plan) plan="$2"; shift ;;
        --dry-run) dry_run=true ;;
        *) echo "$0: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
run() {
    if $dry_run; then
        printf 'would run:'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}
run az group create --name "$group" --location "$location"
run az deployment group create --resource-group "$group" --name entra-monitor \
    --template-file infra/azure/function-app.json --parameters appName="$app" plan="$plan"
run bash infra/azure/package.sh
run az functionapp deployment source config-zip --resource-group "$group" --name "$app" \
    --src target/azure-app.zip
if $dry_run; then
    principal="<principalId output>"
else
    principal=$(az deployment group show --resource-group "$group" --name entra-monitor \
        --query properties.outputs.principalId.value -o tsv)
fi
dry=()
$dry_run && dry=(--dry-run)
bash infra/azure/grant-graph-permissions.sh "$principal" "${dry[@]}"
echo "deployed: https://$app.azurewebsites.net/api/health (with a function key: az functionapp keys list -g $group -n $app)"
