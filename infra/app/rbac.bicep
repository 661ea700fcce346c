// Role assignments inside the app's resource group, each scoped to the one resource it is for.
// Names are guid(scope, principal, role) so a redeploy updates in place instead of failing with RoleAssignmentExists.
// Role ids: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles
param identityPrincipalId string
param storageAccountName string
param deadLetterContainerName string
param applicationInsightsName string
param topicName string
param topicPrincipalId string
param communicationServiceName string

@description('The role that lets the app send email: the custom ACS email sender role, or Communication and Email Service Owner.')
param emailSenderRoleDefinitionId string

@description('DEV ONLY: object id of the deploying user; empty in production and CI (no role is then created for a user).')
param developerPrincipalId string = ''

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

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource topic 'Microsoft.EventGrid/topics@2022-06-15' existing = {
  name: topicName
}

resource communicationService 'Microsoft.Communication/communicationServices@2023-04-01' existing = {
  name: communicationServiceName
}

// Storage Blob Data Owner on the storage account, for the app identity: the Functions host keeps its keys, timer
// schedule status and singleton lease blobs there, and Flex Consumption reads the deployment package with it.
// (Owner, not Contributor: the role Microsoft documents for identity-based AzureWebJobsStorage.)
// No Storage Queue Data Contributor: HTTP, timer and Event Grid triggers use no queues (only blob and queue
// triggers and Durable Functions would).
resource appBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: storageBlobDataOwner
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Storage Table Data Contributor on the storage account, for the app identity: the ledger table (claim, update,
// release). Not on the table alone: the ledger calls create_table when it first starts, which is an account-level
// operation.
resource appTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, storageTableDataContributor)
  scope: storage
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

// DEV ONLY. Storage Table Data Contributor on the storage account, for the deploying user: run the app locally
// against the real ledger. Created only when developerPrincipalId (azd's AZURE_PRINCIPAL_ID) is set.
resource developerTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(developerPrincipalId)) {
  name: guid(storage.id, developerPrincipalId, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: storageTableDataContributor
    principalId: developerPrincipalId
    principalType: 'User'
  }
}

// DEV ONLY. ACS email sender (custom role) or Communication and Email Service Owner on the ACS resource, for the
// deploying user: `python -m backup_events test-email` from a workstation. Only when developerPrincipalId is set.
resource developerEmailSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(developerPrincipalId)) {
  name: guid(communicationService.id, developerPrincipalId, emailSenderRoleDefinitionId)
  scope: communicationService
  properties: {
    roleDefinitionId: emailSenderRoleDefinitionId
    principalId: developerPrincipalId
    principalType: 'User'
  }
}
