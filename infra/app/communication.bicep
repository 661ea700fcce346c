// Azure Communication Services for email: an Email Communication Service with the Azure-managed domain (always,
// free, the default sender) and, optionally, an existing verified custom domain, both linked to the ACS resource.
// The app sends with its managed identity (BACKUP_ACS_ENDPOINT); the ACS access keys are never read.
param communicationServiceName string
param emailServiceName string
param dataLocation string
param tags object

@description('Resource id of an existing verified custom domain to send from; empty for the Azure-managed domain.')
param customEmailDomainId string = ''

param senderUsername string = 'DoNotReply'

var useCustomDomain = !empty(customEmailDomainId)
var customDomainIds = useCustomDomain ? [
  customEmailDomainId
] : []

resource emailService 'Microsoft.Communication/emailServices@2023-04-01' = {
  name: emailServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

// Azure-managed domain (<guid>.azurecomm.net): no DNS work, but 5 emails a minute and 10 an hour per subscription,
// and no quota increase. A custom domain raises that to 30/100.
resource managedDomain 'Microsoft.Communication/emailServices/domains@2023-04-01' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
    userEngagementTracking: 'Disabled'
  }
}

resource communicationService 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: communicationServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    linkedDomains: concat([
      managedDomain.id
    ], customDomainIds)
  }
}

var senderDomain = useCustomDomain ? reference(customEmailDomainId, '2023-04-01').mailFromSenderDomain : managedDomain.properties.mailFromSenderDomain

output name string = communicationService.name
output id string = communicationService.id
output endpoint string = 'https://${communicationService.properties.hostName}'
output senderAddress string = '${senderUsername}@${senderDomain}'
