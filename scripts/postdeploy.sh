#!/bin/sh
# Stage 2 of the deployment, run by azd after `azd deploy` (hook postdeploy in azure.yaml), or by hand:
#   sh scripts/postdeploy.sh                      # inside azd: the values come from the azd environment
#   sh scripts/postdeploy.sh <deployment-name>    # after `az deployment sub create --name <deployment-name> ...`
#
# 1. waits until the deployed app has indexed its functions (the two resources below point at them);
# 2. subscribes on_backup_alert to the Event Grid topic (infra/app/event-subscription.bicep);
# 3. creates the action group (secure webhook to relay_backup_alert: Entra token for the relay's app registration,
#    made in stage 1 by infra/app/relay-app-registration.bicep) and the alert processing rule that routes Azure
#    Backup's built-in alerts to it (infra/app/alert-routing.bicep).
# The relay's function key is read by Azure Resource Manager while it deploys alert-routing.bicep: this script
# never sees, stores or prints it. Safe to run again, e.g. after rotating the function key.
set -eu

cd "$(dirname "$0")/.."

if [ "$#" -ge 1 ]; then
    # Read the outputs (and the environment name) of a stage-1 subscription deployment (`az deployment sub create
    # --name ...`). Output names may come back with their case changed, so match them case-insensitively.
    deployment=$(az deployment sub show --name "$1" --query properties --output json)
    eval "$(printf '%s' "$deployment" | python3 -c '
import json, shlex, sys
wanted = ("AZURE_RESOURCE_GROUP", "AZURE_FUNCTION_APP_NAME", "AZURE_STORAGE_ACCOUNT_NAME", "AZURE_EVENTGRID_TOPIC_NAME",
          "AZURE_DEADLETTER_CONTAINER_NAME", "AZURE_ACTION_GROUP_NAME", "AZURE_ALERT_PROCESSING_RULE_NAME",
          "ALERT_SCOPE_IDS", "ONLY_AZURE_BACKUP_ALERTS", "BACKUP_RELAY_APP_OBJECT_ID", "BACKUP_RELAY_AUDIENCE")
properties = json.load(sys.stdin)
outputs = {k.upper(): v["value"] for k, v in properties["outputs"].items()}
outputs["AZURE_ENV_NAME"] = {k.lower(): v["value"] for k, v in properties["parameters"].items()}["environmentname"]
for name in (*wanted, "AZURE_ENV_NAME"):
    value = outputs[name]
    text = json.dumps(value) if isinstance(value, list) else str(value).lower() if isinstance(value, bool) else str(value)
    print(f"{name}={shlex.quote(text)}")
')"
fi

: "${AZURE_RESOURCE_GROUP:?not set: run inside azd, or pass the name of the stage-1 deployment}"
: "${AZURE_FUNCTION_APP_NAME:?not set}"
: "${AZURE_STORAGE_ACCOUNT_NAME:?not set}"
: "${AZURE_EVENTGRID_TOPIC_NAME:?not set}"
: "${AZURE_ACTION_GROUP_NAME:?not set}"
: "${AZURE_ALERT_PROCESSING_RULE_NAME:?not set}"
: "${AZURE_ENV_NAME:?not set}"
: "${BACKUP_RELAY_APP_OBJECT_ID:?not set: provision infra/main.bicep again (it creates the relay app registration)}"
: "${BACKUP_RELAY_AUDIENCE:?not set}"
deadletter=${AZURE_DEADLETTER_CONTAINER_NAME:-eventgrid-deadletter}
scopes=${ALERT_SCOPE_IDS:-[]}
only_backup=${ONLY_AZURE_BACKUP_ALERTS:-true}
rg=$AZURE_RESOURCE_GROUP
app=$AZURE_FUNCTION_APP_NAME

# 1. The host indexes the functions some time after the package lands (longer on a cold Flex instance).
echo "Waiting for $app to list on_backup_alert and relay_backup_alert..."
attempt=0
while :; do
    names=$(az functionapp function list --resource-group "$rg" --name "$app" --query "[].name" --output tsv 2>/dev/null || true)
    case "$names" in
        *on_backup_alert*)
            case "$names" in *relay_backup_alert*) break ;; esac ;;
    esac
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 60 ]; then
        echo "The functions of $app did not appear within 10 minutes; check the deployment in Application Insights," >&2
        echo "then run this script again (azd hooks run postdeploy)." >&2
        exit 1
    fi
    sleep 10
done

# 2. Event Grid subscription: topic -> on_backup_alert, one event per delivery, identity-based dead-lettering.
echo "Subscribing on_backup_alert to $AZURE_EVENTGRID_TOPIC_NAME..."
az deployment group create \
    --resource-group "$rg" \
    --name "backup-events-event-subscription" \
    --template-file infra/app/event-subscription.bicep \
    --parameters topicName="$AZURE_EVENTGRID_TOPIC_NAME" functionAppName="$app" \
        storageAccountName="$AZURE_STORAGE_ACCOUNT_NAME" deadLetterContainerName="$deadletter" \
    --only-show-errors --output none

# 3. Action group (secure webhook to the relay, common alert schema) + alert processing rule (built-in Backup alerts).
echo "Routing Azure Backup built-in alerts to relay_backup_alert..."
az deployment group create \
    --resource-group "$rg" \
    --name "backup-events-alert-routing" \
    --template-file infra/app/alert-routing.bicep \
    --parameters functionAppName="$app" actionGroupName="$AZURE_ACTION_GROUP_NAME" \
        alertProcessingRuleName="$AZURE_ALERT_PROCESSING_RULE_NAME" environmentName="$AZURE_ENV_NAME" \
        alertScopeIds="$scopes" onlyAzureBackupAlerts="$only_backup" \
        relayAppObjectId="$BACKUP_RELAY_APP_OBJECT_ID" relayIdentifierUri="$BACKUP_RELAY_AUDIENCE" \
    --only-show-errors --output none

echo "Done: Event Grid subscription on-backup-alert, action group $AZURE_ACTION_GROUP_NAME, alert processing rule $AZURE_ALERT_PROCESSING_RULE_NAME."
