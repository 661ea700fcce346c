// Stage 2, applied by scripts/postdeploy.sh once the code is deployed: subscribe on_backup_alert to the topic.
// Not in main.bicep: Event Grid validates the endpoint when the subscription is created, and the function exists
// only after `azd deploy` (Azure/Azure-Functions#1004, Azure/bicep#11656).
param topicName string
param functionAppName string
param storageAccountName string
param deadLetterContainerName string = 'eventgrid-deadletter'

resource topic 'Microsoft.EventGrid/topics@2025-02-15' existing = {
  name: topicName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-01-01' existing = {
  name: storageAccountName
}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource onBackupAlert 'Microsoft.EventGrid/topics/eventSubscriptions@2025-02-15' = {
  parent: topic
  name: 'on-backup-alert'
  properties: {
    // The topic takes CloudEvents 1.0, so it can only deliver CloudEvents 1.0.
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    destination: {
      // AzureFunction, not WebHook: no function key in the subscription, and no validation handshake to answer.
      endpointType: 'AzureFunction'
      properties: {
        resourceId: '${site.id}/functions/on_backup_alert'
        // One event per delivery: the extension fails (and Event Grid resends) the whole batch if one event fails.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    retryPolicy: {
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
    // Dead letters go to the eventgrid-deadletter container, written by the topic's system identity
    // (Storage Blob Data Contributor on that container, rbac.bicep): no storage key or SAS.
    deadLetterWithResourceIdentity: {
      identity: {
        type: 'SystemAssigned'
      }
      deadLetterDestination: {
        endpointType: 'StorageBlob'
        properties: {
          resourceId: storage.id
          blobContainerName: deadLetterContainerName
        }
      }
    }
  }
}

output name string = onBackupAlert.name
