// Role assignments inside the app's resource group, each scoped to the one resource it is for: storage roles to the
// containers and the table, never the whole account.
// Names are guid(scope, principal, role) so a redeploy updates in place instead of failing with RoleAssignmentExists.
// Role ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
param identityPrincipalId string
param storageAccountName string
param deploymentContainerName string
param deadLetterContainerName string
param tableName string
param applicationInsightsName string
param topicName string
param topicPrincipalId string
param communicationServiceName string

@description('The role that lets the app send email: the custom ACS email sender role, or Communication and Email Service Owner.')
param emailSenderRoleDefinitionId string

@description('DEV ONLY: object id of the deploying user; empty in production and CI (no role is then created for a user).')
param developerPrincipalId string = ''

@description('DEV ONLY: give developerPrincipalId the table and email roles. Off unless asked for (main.bicep assignDeveloperRoles).')
param assignDeveloperRoles bool = false

// Storage Blob Data Owner: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-blob-data-owner
var storageBlobDataOwner = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
// Storage Blob Data Contributor: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-blob-data-contributor
var storageBlobDataContributor = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'ba92f5b4-2d11-453d-a403-e96b0029c9fe')
// Storage Table Data Contributor: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/storage#storage-table-data-contributor
var storageTableDataContributor = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
// Monitoring Metrics Publisher: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/monitor#monitoring-metrics-publisher
var monitoringMetricsPublisher = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')
// EventGrid Data Sender: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/integration#eventgrid-data-sender
var eventGridDataSender = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'd5a91429-5739-47e2-a06b-3470a27159e7')

resource storage 'Microsoft.Storage/storageAccounts@2023-01-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-01-01' existing = {
  parent: storage
  name: 'default'
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-01-01' existing = {
  parent: blobService
  name: deadLetterContainerName
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-01-01' existing = {
  parent: blobService
  name: deploymentContainerName
}

// The Functions host's own containers (storage.bicep creates them; the names are fixed by the runtime).
resource hostsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-01-01' existing = {
  parent: blobService
  name: 'azure-webjobs-hosts'
}

resource secretsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-01-01' existing = {
  parent: blobService
  name: 'azure-webjobs-secrets'
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-01-01' existing = {
  parent: storage
  name: 'default'
}

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-01-01' existing = {
  parent: tableService
  name: tableName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource topic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: topicName
}

resource communicationService 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServiceName
}

// Storage Blob Data Owner on the azure-webjobs-hosts container, for the app identity: the Functions host keeps its
// timer schedule status and its singleton and host-id lease blobs there. (Owner: the role Microsoft documents for
// identity-based AzureWebJobsStorage, here on one container instead of the account.)
// No Storage Queue Data Contributor: HTTP, timer and Event Grid triggers use no queues (only blob and queue
// triggers and Durable Functions would).
resource appHostsBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hostsContainer.id, identityPrincipalId, storageBlobDataOwner)
  scope: hostsContainer
  properties: {
    roleDefinitionId: storageBlobDataOwner
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Blob Data Owner on the azure-webjobs-secrets container, for the app identity: the host and function keys
// (AzureWebJobsSecretStorageType blob, the default), the relay's function key among them.
resource appSecretsBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(secretsContainer.id, identityPrincipalId, storageBlobDataOwner)
  scope: secretsContainer
  properties: {
    roleDefinitionId: storageBlobDataOwner
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Blob Data Contributor on the app-package container only, for the app identity: Flex Consumption writes
// the deployment package there on `azd deploy` and reads it when an instance starts (functionAppConfig.deployment).
resource appDeploymentBlobDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deploymentContainer.id, identityPrincipalId, storageBlobDataContributor)
  scope: deploymentContainer
  properties: {
    roleDefinitionId: storageBlobDataContributor
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor on the backupevents table only, for the app identity: the ledger (claim, update,
// release). storage.bicep creates the table; the ledger's create_table on start then gets 409 (already exists),
// which it ignores. Whether a table-scoped role lets that call through to the 409 is checked on a real tenant
// (infra/README.md, "Not verified without Azure").
resource appTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(table.id, identityPrincipalId, storageTableDataContributor)
  scope: table
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Monitoring Metrics Publisher on Application Insights, for the app identity: telemetry ingestion with local auth off.
resource appMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: monitoringMetricsPublisher
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// EventGrid Data Sender on the topic, for the app identity: the alert relay publishes to it (local auth is off).
resource appEventGridDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, identityPrincipalId, eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: eventGridDataSender
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ACS email sender (custom role) or Communication and Email Service Owner on the ACS resource, for the app identity:
// sending email with Entra ID. No built-in role only sends; see main.bicep (useCustomEmailSenderRole).
resource appEmailSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(communicationService.id, identityPrincipalId, emailSenderRoleDefinitionId)
  scope: communicationService
  properties: {
    roleDefinitionId: emailSenderRoleDefinitionId
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Blob Data Contributor on the eventgrid-deadletter container only, for the topic's system identity:
// identity-based dead-lettering (deadLetterWithResourceIdentity), so no storage key or SAS is needed.
resource topicDeadLetterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(deadLetterContainer.id, topicPrincipalId, storageBlobDataContributor)
  scope: deadLetterContainer
  properties: {
    roleDefinitionId: storageBlobDataContributor
    principalId: topicPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// DEV ONLY. Storage Table Data Contributor on the backupevents table, for the deploying user: run the app locally
// against the real ledger. Created only when assignDeveloperRoles is true and developerPrincipalId (azd's
// AZURE_PRINCIPAL_ID) is set.
resource developerTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignDeveloperRoles && !empty(developerPrincipalId)) {
  name: guid(table.id, developerPrincipalId, storageTableDataContributor)
  scope: table
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: developerPrincipalId
    principalType: 'User'
  }
}

// DEV ONLY. ACS email sender (custom role) or Communication and Email Service Owner on the ACS resource, for the
// deploying user: `python -m backup_events test-email` from a workstation. Only when assignDeveloperRoles is true and
// developerPrincipalId is set.
resource developerEmailSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (assignDeveloperRoles && !empty(developerPrincipalId)) {
  name: guid(communicationService.id, developerPrincipalId, emailSenderRoleDefinitionId)
  scope: communicationService
  properties: {
    roleDefinitionId: emailSenderRoleDefinitionId
    principalId: developerPrincipalId
    principalType: 'User'
  }
}
