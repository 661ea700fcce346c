// The custom topic the alert relay publishes to (CloudEvents 1.0, Entra ID only: local auth with access keys or SAS
// tokens is off; TLS 1.2 or later). API 2025-02-15: the first GA version whose topics have minimumTlsVersionAllowed
// (2022-06-15 has no such property; tests/test_bicep_types.py checks it against the published types).
// Its system identity writes dead letters to the eventgrid-deadletter container (see rbac.bicep).
param name string
param location string
param tags object

resource topic 'Microsoft.EventGrid/topics@2025-02-15' = {
  // checkov:skip=CKV_AZURE_193: no VNet or private endpoint in this minimal deployment: the relay function (not VNet-integrated) publishes over the public endpoint. Publishing needs an Entra token with EventGrid Data Sender (disableLocalAuth true, no access keys)
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    disableLocalAuth: true
    minimumTlsVersionAllowed: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

output name string = topic.name
output id string = topic.id
output endpoint string = topic.properties.endpoint
output principalId string = topic.identity.principalId
