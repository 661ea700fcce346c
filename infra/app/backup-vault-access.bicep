// Deployed at a watched Backup vault's resource group: the backup-events Backup vault reader role on that one vault,
// for the app identity.
param vaultName string
param principalId string
param roleDefinitionId string

// Only referenced, never deployed: the Backup vault and its alert settings stay as they are.
resource vault 'Microsoft.DataProtection/backupVaults@2025-07-01' existing = {
  name: vaultName
}

// The backup-events Backup vault reader role on the vault (main.bicep says why not Backup Reader): the poll lists
// the vault's jobs and reads their details, its backup instances, their recovery points and the policies.
resource appBackupVaultReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roleDefinitionId)
  scope: vault
  properties: {
    roleDefinitionId: roleDefinitionId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
