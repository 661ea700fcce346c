// Deployed at a watched subscription: Backup Reader on the whole subscription, for the app identity.
targetScope = 'subscription'

param principalId string

@description('Resource id of the backup-events Backup vault reader role (main.bicep): Backup vaults, their jobs, backup instances, recovery points, policies.')
param backupVaultReaderRoleId string

// Backup Reader: https://learn.microsoft.com/azure/role-based-access-control/built-in-roles/management-and-governance#backup-reader
// Discovery is GET /subscriptions/{id}/providers/Microsoft.RecoveryServices/vaults, which returns the vaults the
// caller may read: it needs Microsoft.RecoveryServices/Vaults/read, which Backup Reader has (with
// Vaults/backupJobs/read for the jobs). Reader on the subscription is not needed.
var backupReader = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'a795c7a0-d4a2-40c1-ae25-d81f01202912')

// Backup Reader on the subscription, for the app identity: discover every vault in it and read their jobs.
resource appBackupReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, backupReader)
  properties: {
    roleDefinitionId: backupReader
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// The Backup vault reader role on the subscription, for the app identity: discover every Backup vault in it
// (GET /subscriptions/{id}/providers/Microsoft.DataProtection/backupVaults) and read their jobs and backup instances.
resource appBackupVaultReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, backupVaultReaderRoleId)
  properties: {
    roleDefinitionId: backupVaultReaderRoleId
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
