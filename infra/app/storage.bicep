// One storage account, reached only by Entra ID (shared keys off): the Functions host (AzureWebJobsStorage), the Flex
// deployment package, the Event Grid dead letters and the ledger table.
param name string
param location string
param tags object
param deploymentContainerName string
param deadLetterContainerName string
param tableName string

resource storage 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  // checkov:skip=CKV_AZURE_35: no VNet or private endpoints in this minimal deployment; the Flex Consumption app (not VNet-integrated), Event Grid dead-lettering and azd deploy reach the account over its public endpoint. Access is by Entra ID only (allowSharedKeyAccess false)
  // checkov:skip=CKV_AZURE_59: same reason as CKV_AZURE_35: public network access is needed without private endpoints; no anonymous blob access (allowBlobPublicAccess false) and no keys or SAS (allowSharedKeyAccess false)
  // checkov:skip=CKV_AZURE_206: locally redundant is enough: the table is a dedupe ledger and the package is redeployed by azd; losing it at worst repeats an email about a failure within the lookback window
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-01-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-01-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource deadLetterContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-01-01' = {
  parent: blobService
  name: deadLetterContainerName
  properties: {
    publicAccess: 'None'
  }
}

// azure-webjobs-hosts (timer schedule status, singleton and host-id locks) and azure-webjobs-secrets (host and function
// keys). The host would create them itself, but creating a container needs a role on the account; the app only has
// roles on these containers (rbac.bicep).
// The names are fixed by the Functions runtime; rbac.bicep refers to the same two names.
resource hostsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-01-01' = {
  parent: blobService
  name: 'azure-webjobs-hosts'
  properties: {
    publicAccess: 'None'
  }
}

resource secretsContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-01-01' = {
  parent: blobService
  name: 'azure-webjobs-secrets'
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-01-01' = {
  parent: storage
  name: 'default'
}

resource table 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-01-01' = {
  parent: tableService
  name: tableName
}

output name string = storage.name
output id string = storage.id
output blobEndpoint string = 'https://${storage.name}.blob.${environment().suffixes.storage}'
output queueEndpoint string = 'https://${storage.name}.queue.${environment().suffixes.storage}'
output tableEndpoint string = 'https://${storage.name}.table.${environment().suffixes.storage}'
