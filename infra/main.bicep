// backup-events: everything the Function App needs, in one subscription, by managed identity (no keys anywhere).
//
// Stage 1 (this file, `azd provision` / `az deployment sub create`): resource group, identity, storage, monitoring,
// Azure Communication Services email, the Event Grid topic, the Flex Consumption app and every role assignment.
// Stage 2 (scripts/postdeploy.sh, after the code is deployed): infra/app/event-subscription.bicep and
// infra/app/alert-routing.bicep, because both point at functions that exist only once the code is running.
//
// The vaults' built-in Azure Monitor alerts are not touched (alertsForAllJobFailures stays on): this deployment only
// reads the vaults, and adds our action group next to whatever the built-in alerts already notify.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment: part of every resource name (through resourceToken) and the azd-env-name tag.')
param environmentName string

@minLength(1)
@description('Region of the resource group and the regional resources. Flex Consumption must be offered there.')
param location string

@description('Recovery Services vaults to watch, by resource id. Backup Reader is granted on each vault.')
param vaultIds array = []

@description('Backup vaults (Microsoft.DataProtection/backupVaults: disks, blobs, ADLS, PostgreSQL, MySQL, AKS) to watch, by resource id. The backup-events Backup vault reader role is granted on each vault.')
param backupVaultIds array = []

@description('Subscriptions whose every Recovery Services vault and Backup vault is watched. Backup Reader and the backup-events Backup vault reader role are granted on each subscription. When this, vaultIds and backupVaultIds are all empty, the deployment subscription is watched.')
param watchedSubscriptionIds array = []

@minLength(3)
@description('Comma-separated email addresses of the on-call staff (at most 50).')
param recipients string

@description('NCRONTAB schedule of the poll (six fields, seconds first, UTC).')
param pollSchedule string = '0 */15 * * * *'

@description('When the daily summary is sent: HH:MM on a quarter hour in summaryTimeZone, or off.')
param summarySchedule string = '09:00'

@description('IANA time zone of the daily summary, such as Asia/Tokyo.')
param summaryTimeZone string = 'UTC'

@minValue(1)
@maxValue(720)
@description('How far back each poll looks, in hours; overlaps earlier polls on purpose.')
param lookbackHours int = 24

@description('Optional: resource id of an existing, verified custom email domain (Microsoft.Communication/emailServices/domains) in the same data location. Empty: send from the Azure-managed domain.')
param customEmailDomainId string = ''

@description('Sender username (the part before @) on the email domain. Azure-managed domains come with DoNotReply.')
param senderUsername string = 'DoNotReply'

@description('Data location of the Communication Services resources (e.g. United States, Europe, Japan).')
param dataLocation string = 'United States'

@description('What the alert processing rule covers: the subscription, resource groups or vaults, all in THIS subscription. Empty: the deployment subscription.')
param alertScopeIds array = []

@description('Route only alerts whose monitor service is Azure Backup (in addition to the vault resource type).')
param onlyAzureBackupAlerts bool = true

@description('Send mail with a custom role (CommunicationServices Read/Write + EmailServices write) instead of the broader built-in Communication and Email Service Owner. Set false if sending returns 403 with the custom role.')
param useCustomEmailSenderRole bool = true

@description('DEV ONLY. Object id of the deploying user (azd sets AZURE_PRINCIPAL_ID). Used only when assignDeveloperRoles is true.')
param principalId string = ''

@description('DEV ONLY. Give principalId the table and email roles, to run the app locally against these resources. Off by default; never in production or CI.')
param assignDeveloperRoles bool = false

@description('Optional: name of the resource group. Empty: rg-<environmentName>.')
param resourceGroupName string = ''

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var watchedSubscriptions = empty(vaultIds) && empty(backupVaultIds) && empty(watchedSubscriptionIds) ? [subscription().subscriptionId] : watchedSubscriptionIds
var backupVaultSubscriptions = [for backupVaultId in backupVaultIds: split(backupVaultId, '/')[2]]
var backupVaultRoleScopes = [for subscriptionId in union(watchedSubscriptions, backupVaultSubscriptions): '/subscriptions/${subscriptionId}']
var effectiveAlertScopeIds = empty(alertScopeIds) ? [subscription().id] : alertScopeIds
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'
var tableName = 'backupevents'

// Communication and Email Service Owner: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration#communication-and-email-service-owner
var communicationAndEmailServiceOwner = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '09976791-48a7-449e-bb21-39d1a415f350')

resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

// No built-in role only sends email. The ACS SMTP-authentication guide lists the actions for a custom role
// (https://learn.microsoft.com/azure/communication-services/quickstarts/email/send-email-smtp/smtp-authentication):
// CommunicationServices/Read and EmailServices/write, and since a later revision (MicrosoftDocs/azure-docs#124422)
// CommunicationServices/Write too. That this set is enough for the Email REST API (what azure-communication-email
// calls) is unconfirmed: useCustomEmailSenderRole=false falls back to the built-in owner role. The custom role cannot
// list or regenerate the ACS access keys; the owner role covers every Communication Services operation, keys
// included, which is why the custom role is the default.
resource emailSenderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = if (useCustomEmailSenderRole) {
  name: guid(subscription().id, rg.id, 'backup-events-acs-email-sender')
  properties: {
    roleName: 'backup-events ACS email sender (${resourceToken})'
    description: 'Send email through Azure Communication Services; nothing else. Created by backup-events.'
    type: 'CustomRole'
    assignableScopes: [
      rg.id
    ]
    permissions: [
      {
        actions: [
          'Microsoft.Communication/CommunicationServices/Read'
          'Microsoft.Communication/CommunicationServices/Write'
          'Microsoft.Communication/EmailServices/write'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

// Backup vaults (Microsoft.DataProtection) are read with a custom role, not Backup Reader: Backup Reader's actions
// (https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#backup-reader) include no
// Microsoft.DataProtection/backupVaults/backupJobs/read, so it cannot list a Backup vault's jobs, and they include
// writes there (backupInstances/write, backupInstances/backup/action, backupInstances/restore/action). Reader would
// read them but everything else in scope too. This role is the five reads the poll makes, and nothing else.
resource backupVaultReaderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, rg.id, 'backup-events-backup-vault-reader')
  properties: {
    roleName: 'backup-events Backup vault reader (${resourceToken})'
    description: 'Read Backup vaults, their jobs, backup instances, recovery points and backup policies; nothing else. Created by backup-events.'
    type: 'CustomRole'
    assignableScopes: backupVaultRoleScopes
    permissions: [
      {
        actions: [
          'Microsoft.DataProtection/backupVaults/read'
          'Microsoft.DataProtection/backupVaults/backupJobs/read'
          'Microsoft.DataProtection/backupVaults/backupInstances/read'
          'Microsoft.DataProtection/backupVaults/backupInstances/recoveryPoints/read'
          'Microsoft.DataProtection/backupVaults/backupPolicies/read'
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    tableName: tableName
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

// The watchdog's watchdog: alert rules on the app's own telemetry, emailing the on-call addresses directly.
module watchdog 'app/watchdog.bicep' = {
  name: 'watchdog'
  scope: rg
  params: {
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    actionGroupName: '${abbrs.insightsActionGroups}oncall-${resourceToken}'
    noPollAlertName: '${abbrs.insightsScheduledQueryRules}no-poll-${resourceToken}'
    failedRunsAlertName: '${abbrs.insightsScheduledQueryRules}failed-runs-${resourceToken}'
    location: location
    tags: tags
    recipients: recipients
  }
}

module communication 'app/communication.bicep' = {
  name: 'communication'
  scope: rg
  params: {
    communicationServiceName: '${abbrs.communicationCommunicationServices}${resourceToken}'
    emailServiceName: '${abbrs.communicationEmailServices}${resourceToken}'
    dataLocation: dataLocation
    customEmailDomainId: customEmailDomainId
    senderUsername: senderUsername
    tags: tags
  }
}

module topic 'app/eventgrid-topic.bicep' = {
  name: 'eventgrid-topic'
  scope: rg
  params: {
    name: '${abbrs.eventGridDomainsTopics}${resourceToken}'
    location: location
    tags: tags
  }
}

// The relay's Entra app registration (Microsoft Graph Bicep extension): the audience of the action group's token.
module relayApp 'app/relay-app-registration.bicep' = {
  name: 'relay-app-registration'
  scope: rg
  params: {
    uniqueName: 'backup-events-relay-${resourceToken}'
    displayName: 'backup-events alert relay (${environmentName})'
  }
}

module functionApp 'app/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  // Roles first, so the host finds its storage (and the deployment package) readable when it first starts.
  dependsOn: [
    rbac
  ]
  params: {
    name: '${abbrs.webSitesFunctions}${resourceToken}'
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    pollSchedule: pollSchedule
    summarySchedule: summarySchedule
    summaryTimeZone: summaryTimeZone
    vaultIds: join(concat(vaultIds, backupVaultIds), ',')
    subscriptionIds: join(watchedSubscriptions, ',')
    lookbackHours: lookbackHours
    tableEndpoint: storage.outputs.tableEndpoint
    tableName: tableName
    acsEndpoint: communication.outputs.endpoint
    mailSender: communication.outputs.senderAddress
    recipients: recipients
    topicEndpoint: topic.outputs.endpoint
    relayAudience: relayApp.outputs.identifierUri
    relayTenantId: tenant().tenantId
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
    tableName: tableName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    topicName: topic.outputs.name
    topicPrincipalId: topic.outputs.principalId
    communicationServiceName: communication.outputs.name
    emailSenderRoleDefinitionId: useCustomEmailSenderRole ? emailSenderRole.id : communicationAndEmailServiceOwner
    developerPrincipalId: assignDeveloperRoles ? principalId : ''
    assignDeveloperRoles: assignDeveloperRoles
  }
}

// Backup Reader on each listed vault (the narrowest scope that lets the app list and read its jobs). When vaultIds is
// given, no subscription gets a role unless watchedSubscriptionIds names it (watchedSubscriptions above).
module vaultAccess 'app/vault-access.bicep' = [
  for (vaultId, i) in vaultIds: {
    name: 'backup-reader-${resourceToken}-vault-${i}'
    scope: resourceGroup(split(vaultId, '/')[2], split(vaultId, '/')[4])
    params: {
      vaultName: split(vaultId, '/')[8]
      principalId: identity.outputs.principalId
    }
  }
]

// The Backup vault reader role on each listed Backup vault.
module backupVaultAccess 'app/backup-vault-access.bicep' = [
  for (backupVaultId, i) in backupVaultIds: {
    name: 'backup-vault-reader-${resourceToken}-vault-${i}'
    scope: resourceGroup(split(backupVaultId, '/')[2], split(backupVaultId, '/')[4])
    params: {
      vaultName: split(backupVaultId, '/')[8]
      principalId: identity.outputs.principalId
      roleDefinitionId: backupVaultReaderRole.id
    }
  }
]

// Backup Reader and the Backup vault reader role on each watched subscription: discovery lists both kinds of vault
// there, then reads their jobs.
module subscriptionAccess 'app/subscription-access.bicep' = [
  for (subscriptionId, i) in watchedSubscriptions: {
    name: 'backup-reader-${resourceToken}-sub-${i}'
    scope: subscription(subscriptionId)
    params: {
      principalId: identity.outputs.principalId
      backupVaultReaderRoleId: backupVaultReaderRole.id
    }
  }
]

// Read by azd (and by scripts/postdeploy.sh); none of them is a secret.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_HOSTNAME string = functionApp.outputs.defaultHostName
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_EVENTGRID_TOPIC_NAME string = topic.outputs.name
output AZURE_DEADLETTER_CONTAINER_NAME string = deadLetterContainerName
output AZURE_WATCHDOG_ACTION_GROUP_ID string = watchdog.outputs.actionGroupId
output AZURE_ACTION_GROUP_NAME string = '${abbrs.insightsActionGroups}${resourceToken}'
output AZURE_ALERT_PROCESSING_RULE_NAME string = '${abbrs.alertsManagementActionRules}${resourceToken}'
output ALERT_SCOPE_IDS array = effectiveAlertScopeIds
output ONLY_AZURE_BACKUP_ALERTS bool = onlyAzureBackupAlerts
output BACKUP_EVENTS_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output BACKUP_TABLE_ENDPOINT string = storage.outputs.tableEndpoint
output BACKUP_ACS_ENDPOINT string = communication.outputs.endpoint
output BACKUP_MAIL_SENDER string = communication.outputs.senderAddress
output BACKUP_EVENTGRID_TOPIC_ENDPOINT string = topic.outputs.endpoint
output BACKUP_RELAY_APP_OBJECT_ID string = relayApp.outputs.objectId
output BACKUP_RELAY_AUDIENCE string = relayApp.outputs.identifierUri
output BACKUP_RELAY_TENANT_ID string = tenant().tenantId
