// Deployed at a watched vault's resource group: Backup Reader on that one vault, for the app identity.
param vaultName string
param principalId string

// Backup Reader: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/management-and-governance#backup-reader
// Its actions include Microsoft.RecoveryServices/Vaults/read and Microsoft.RecoveryServices/Vaults/backupJobs/read
// (list jobs, get job details), and nothing that writes.
var backupReader = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'a795c7a0-d4a2-40c1-ae25-d81f01202912')

// Only referenced, never deployed: the vault and its built-in alert settings (alertsForAllJobFailures) stay as they are.
resource vault 'Microsoft.RecoveryServices/vaults@2023-04-01' existing = {
  name: vaultName
}

// Backup Reader on the vault, for the app identity: the poll lists the vault's failed jobs and reads their details.
resource appBackupReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, backupReader)
  scope: vault
  properties: {
    roleDefinitionId: backupReader
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
