#!/usr/bin/env bash
# Grants the function app's managed identity the Microsoft Graph application permissions the
# enabled features need, least privilege (an app role assignment each, which is admin consent):
#   AuditLog.Read.All             sign-ins (all four kinds), audit logs, provisioning logs
#   Application.Read.All          the directory inventory: app registrations and service principals
#   User.Read.All                 the inventory's users (their signInActivity also needs AuditLog.Read.All and P1)
#   RoleManagement.Read.Directory the inventory's directory role definitions and assignments
#   Policy.Read.All               the inventory's Conditional Access policies
#   IdentityRiskEvent.Read.All    risk detections (AADUserRiskEvents, AADServicePrincipalRiskEvents)
#   IdentityRiskyUser.Read.All    risky users (AADRiskyUsers)
#   IdentityRiskyServicePrincipal.Read.All  risky service principals (AADRiskyServicePrincipals; Workload ID Premium)
#   IdentityRiskyUser.ReadWrite.All  only with --risk-write-back (ENTRA_MONITOR_RISK_WRITE_BACK=true)
# Needs the Azure CLI signed in as someone allowed to grant them (Privileged Role Administrator
# or Global Administrator).
# Usage: grant-graph-permissions.sh <identity principal id> [--risk-write-back] [--dry-run]
#   (the principal id is the ARM template's output `principalId`)
set -euo pipefail
principal="${1:-}"
if [ -z "$principal" ] || [[ "$principal" == --* ]]; then
    echo "usage: $0 <identity principal id> [--risk-write-back] [--dry-run]" >&2
    exit 2
fi
shift
dry_run=false
permissions=(AuditLog.Read.All Application.Read.All User.Read.All RoleManagement.Read.Directory Policy.Read.All IdentityRiskEvent.Read.All IdentityRiskyUser.Read.All IdentityRiskyServicePrincipal.Read.All)
for arg in "$@"; do
    case "$arg" in
        --dry-run) dry_run=true ;;
        --risk-write-back) permissions+=(IdentityRiskyUser.ReadWrite.All) ;;
        *) echo "$0: unknown option $arg" >&2; exit 2 ;;
    esac
done
graph_app=00000003-0000-0000-c000-000000000000
run() {
    if $dry_run; then
        printf 'would run:'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}
if $dry_run && ! command -v az >/dev/null; then
    graph_sp="<Microsoft Graph's service principal id>"
else
    graph_sp=$(az ad sp show --id "$graph_app" --query id -o tsv)
fi
for permission in "${permissions[@]}"; do
    if $dry_run && ! command -v az >/dev/null; then
        role="<id of $permission>"
    else
        role=$(az ad sp show --id "$graph_app" --query "appRoles[?value=='$permission'].id | [0]" -o tsv)
    fi
    echo "grant $permission"
    run az rest --method POST \
        --uri "https://graph.microsoft.com/v1.0/servicePrincipals/$principal/appRoleAssignments" \
        --headers "Content-Type=application/json" \
        --body "{\"principalId\": \"$principal\", \"resourceId\": \"$graph_sp\", \"appRoleId\": \"$role\"}"
done
