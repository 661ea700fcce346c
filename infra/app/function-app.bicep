// The Flex Consumption Function App (Python 3.11, v2 programming model) and its app settings.
// Every setting is identity-based: no storage key, no ACS key, no connection string with a secret.
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string

// Our settings, named as in backup_events/settings.py (SETTINGS).
param pollSchedule string
param summarySchedule string = '09:00'
param summaryTimeZone string = 'UTC'
param vaultIds string
param subscriptionIds string
param lookbackHours int
param tableEndpoint string
param tableName string
param acsEndpoint string
param mailSender string
param recipients string
param topicEndpoint string

@description('Application ID URI of the relay\'s app registration: the audience of the action group\'s Entra token.')
param relayAudience string

@description('Tenant that issues the action group\'s token (tenant()).')
param relayTenantId string = tenant().tenantId

@description('Flex Consumption: 40 is the lowest allowed maximum; the timer is a singleton and the relay is light.')
param maximumInstanceCount int = 40

@description('Flex Consumption instance size in MB (2048 or 4096).')
param instanceMemoryMB int = 2048

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: not zone redundant on purpose: a missed poll is caught by the next one (the lookback window overlaps) and the built-in alerts stay on as the safety net; zone redundancy on Flex Consumption is regional and costs always-ready instances
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: public network access is required: the action group webhook (relay_backup_alert), Event Grid delivery and azd deploy all come over the public endpoint; no VNet in this minimal deployment. The relay needs its function key and an Entra token from the action group; the Event Grid trigger is reached only by Event Grid's system key
  // checkov:skip=CKV_AZURE_17: client certificates cannot be required: action group webhooks cannot present one (Azure Monitor documents no certificate support); the relay is protected by its function key and the action group's Entra token (useAadAuth) instead
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero; always-ready instances would cost money for a timer that runs every 15 minutes. A missed run is caught by the next (overlapping lookback)
  // checkov:skip=CKV_AZURE_213: the app has no health endpoint to probe (a timer, an HTTP relay and an Event Grid trigger only); failures show in Application Insights, and the timer raises when a job fails to process
  name: name
  location: location
  tags: union(tags, {
    'azd-service-name': 'app'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      // Flex Consumption takes the runtime from functionAppConfig: FUNCTIONS_WORKER_RUNTIME and
      // FUNCTIONS_EXTENSION_VERSION must not be set. BACKUP_TABLE_CONNECTION_STRING, BACKUP_ACS_CONNECTION_STRING and
      // BACKUP_OUTBOX_DIR are local-only settings and are never set here.
      appSettings: [
        // Functions host storage by identity. Blob only in practice (timer schedule monitor and singleton lock,
        // host keys, deployment package); the queue and table URIs are given for completeness, the host uses
        // neither for HTTP, timer and Event Grid triggers, so the identity gets no queue role.
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identityClientId
        }
        {
          name: 'AzureWebJobsStorage__blobServiceUri'
          value: 'https://${storageAccountName}.blob.${environment().suffixes.storage}'
        }
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: 'https://${storageAccountName}.queue.${environment().suffixes.storage}'
        }
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: 'https://${storageAccountName}.table.${environment().suffixes.storage}'
        }
        // The connection string holds an ingestion endpoint and an instrumentation id, not a credential: local auth is
        // off, so ingestion needs the Entra token the authentication string asks for.
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: applicationInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identityClientId};Authorization=AAD'
        }
        // Which identity DefaultAzureCredential uses (backup_events.bootstrap).
        {
          name: 'AZURE_CLIENT_ID'
          value: identityClientId
        }
        // Use the pinned azure-functions library, not the worker's bundled one (func.CloudEvent needs >= 1.25).
        {
          name: 'PYTHON_ISOLATE_WORKER_DEPENDENCIES'
          value: '1'
        }
        {
          name: 'BACKUP_POLL_SCHEDULE'
          value: pollSchedule
        }
        {
          name: 'BACKUP_SUMMARY_SCHEDULE'
          value: summarySchedule
        }
        {
          name: 'BACKUP_TIMEZONE'
          value: summaryTimeZone
        }
        {
          name: 'BACKUP_JOBS_SOURCE'
          value: 'arm'
        }
        {
          name: 'BACKUP_VAULT_IDS'
          value: vaultIds
        }
        {
          name: 'BACKUP_SUBSCRIPTION_IDS'
          value: subscriptionIds
        }
        {
          name: 'BACKUP_LOOKBACK_HOURS'
          value: string(lookbackHours)
        }
        {
          name: 'BACKUP_CLOUD'
          value: environment().name
        }
        {
          name: 'BACKUP_TABLE_ENDPOINT'
          value: tableEndpoint
        }
        {
          name: 'BACKUP_TABLE_NAME'
          value: tableName
        }
        {
          name: 'BACKUP_MAILER'
          value: 'acs'
        }
        {
          name: 'BACKUP_ACS_ENDPOINT'
          value: acsEndpoint
        }
        {
          name: 'BACKUP_MAIL_SENDER'
          value: mailSender
        }
        {
          name: 'BACKUP_MAIL_RECIPIENTS'
          value: recipients
        }
        {
          name: 'BACKUP_EVENTGRID_TOPIC_ENDPOINT'
          value: topicEndpoint
        }
        // The relay accepts only the action group's Entra token: issued by this tenant, for this audience, with the
        // ActionGroupsSecureWebhook role (relay-app-registration.bicep).
        {
          name: 'BACKUP_RELAY_AUDIENCE'
          value: relayAudience
        }
        {
          name: 'BACKUP_RELAY_TENANT_ID'
          value: relayTenantId
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: 'https://${storageAccountName}.blob.${environment().suffixes.storage}/${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}


output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
