// Stage 2, applied by scripts/postdeploy.sh once the code is deployed: route Azure Backup's built-in alerts to the
// relay function. Built-in alerts have no alert rule, so an alert processing rule adds our action group; the
// vaults' own alert settings (alertsForAllJobFailures) are not touched and whatever they already notify still gets
// notified.
//
// The webhook is a secure webhook (useAadAuth): Azure Monitor sends a bearer token from its action-groups app, for
// the relay's app registration (relay-app-registration.bicep, created in stage 1), and the relay validates it
// (BACKUP_RELAY_AUDIENCE, BACKUP_RELAY_TENANT_ID). The function key stays in the URL as a second lock, because the
// function is declared with auth_level FUNCTION; the token, not the key, is what proves the caller is Azure Monitor.
//
// The webhook also needs the relay's function key. It is read here with listKeys, inside Azure Resource Manager, so it
// never passes through a shell, a command line, a log or a deployment output; it is not a literal in this file.
// Why not fetch it in the hook with the CLI: the key would then sit in a shell variable and be passed on a command
// line (visible in the process list). It does end up in the action group's webhook URL, readable by anyone who can
// read the action group: that is how action-group webhooks carry a function key. After rotating the key, run
// `azd hooks run postdeploy` again.
param functionAppName string
param actionGroupName string
param alertProcessingRuleName string
param environmentName string

@description('Object id of the relay\'s app registration (stage-1 output BACKUP_RELAY_APP_OBJECT_ID).')
param relayAppObjectId string

@description('Application ID URI of the relay\'s app registration (stage-1 output BACKUP_RELAY_AUDIENCE).')
param relayIdentifierUri string

@description('Subscription, resource groups or vaults (all in this subscription) whose alerts are routed. Empty: this subscription.')
param alertScopeIds array = []

@description('Route only alerts whose monitor service is Azure Backup, besides the vault resource type.')
param onlyAzureBackupAlerts bool = true

var tags = {
  'azd-env-name': environmentName
}
var scopes = empty(alertScopeIds) ? [subscription().id] : alertScopeIds
var vaultCondition = [
  {
    field: 'TargetResourceType'
    operator: 'Equals'
    values: [
      'microsoft.recoveryservices/vaults'
    ]
  }
]
var backupCondition = [
  {
    field: 'MonitorService'
    operator: 'Equals'
    values: [
      'Azure Backup'
    ]
  }
]

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// The function-level key of relay_backup_alert only (not a host key, which would open every function).
var relayUrl = 'https://${site.properties.defaultHostName}/api/alerts?code=${listKeys(resourceId('Microsoft.Web/sites/functions', functionAppName, 'relay_backup_alert'), '2024-04-01').default}'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'backupevents'
    enabled: true
    webhookReceivers: [
      {
        name: 'relay-backup-alert'
        serviceUri: relayUrl
        useCommonAlertSchema: true
        useAadAuth: true
        objectId: relayAppObjectId
        identifierUri: relayIdentifierUri
        tenantId: tenant().tenantId
      }
    ]
  }
}

resource alertProcessingRule 'Microsoft.AlertsManagement/actionRules@2021-08-08' = {
  name: alertProcessingRuleName
  location: 'Global'
  tags: tags
  properties: {
    description: 'backup-events: send Azure Backup built-in alerts of Recovery Services vaults to the relay function.'
    enabled: true
    scopes: scopes
    conditions: onlyAzureBackupAlerts ? concat(vaultCondition, backupCondition) : vaultCondition
    actions: [
      {
        actionType: 'AddActionGroups'
        actionGroupIds: [
          actionGroup.id
        ]
      }
    ]
  }
}

output actionGroupId string = actionGroup.id
output alertProcessingRuleId string = alertProcessingRule.id
