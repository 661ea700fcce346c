// The relay's Entra app registration: what the action group's secure webhook gets its token for.
//
// Azure Monitor's action groups call a secure webhook (useAadAuth) with a token from their first-party app "AzNS AAD
// Webhook" (appId 461e8683-5575-4561-ac7f-899cc907d62a), issued for this app's identifierUri, and carrying the app
// role ActionGroupsSecureWebhook, which only that service principal is assigned. The relay checks the token itself
// (BACKUP_RELAY_AUDIENCE, BACKUP_RELAY_TENANT_ID); no secret, certificate or redirect URI is created.
//
// Microsoft Graph Bicep extension, v1.0 types 1.0.0 (infra/bicepconfig.json). Deploying it needs the right to create
// applications and to assign an app role to another service principal in the tenant (infra/README.md, Prerequisites).
extension microsoftGraphV1

@description('Unique name of the app registration in the tenant (the key the Graph extension upserts by).')
param uniqueName string

@description('Display name of the app registration.')
param displayName string

// The first-party app of Azure Monitor action groups (Microsoft's documented id for secure webhooks).
var actionGroupsAppId = '461e8683-5575-4561-ac7f-899cc907d62a'
var appRoleValue = 'ActionGroupsSecureWebhook'
var appRoleId = guid(tenant().tenantId, uniqueName, appRoleValue)
// api://<tenant id>/<name>: a form Entra accepts without a verified domain, also under the default app management
// policy that refuses other api:// URIs.
var identifierUri = 'api://${tenant().tenantId}/${uniqueName}'

resource relayApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  identifierUris: [
    identifierUri
  ]
  appRoles: [
    {
      id: appRoleId
      value: appRoleValue
      displayName: appRoleValue
      description: 'Azure Monitor action groups may call the backup-events alert relay.'
      allowedMemberTypes: [
        'Application'
      ]
      isEnabled: true
    }
  ]
}

resource relayServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: relayApp.appId
}

// Only read: Microsoft's service principal exists in tenants that use action groups. If it is missing, create it
// once with `az ad sp create --id 461e8683-5575-4561-ac7f-899cc907d62a` (infra/README.md).
resource actionGroupsServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: actionGroupsAppId
}

// The app role, assigned to the action groups' service principal: what the relay finds in the token's roles claim.
resource actionGroupsRole 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  appRoleId: appRoleId
  principalId: actionGroupsServicePrincipal.id
  resourceId: relayServicePrincipal.id
}

output objectId string = relayApp.id
output appId string = relayApp.appId
output identifierUri string = identifierUri
