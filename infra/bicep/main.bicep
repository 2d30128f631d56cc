// Utility Cloud Connector on Azure: the UC contract-events topic subscription with its SQL
// filter, the session-completed queue, and the Function App running the `ucc` custom handler
// (target/azure/functionapp.zip from `make package`) with a system-assigned managed identity,
// Key Vault references for secrets and Application Insights. See docs/deploy.md.
//
// Deploy: az deployment group create -g <rg> -f infra/bicep/main.bicep -p infra/bicep/<env>.bicepparam

targetScope = 'resourceGroup'

@description('Deployment environment: selects the UC topic name and resource names.')
@allowed([
  'production'
  'staging'
])
param environment string

@description('Azure region of every resource.')
param location string = resourceGroup().location

@description('Short prefix of resource names.')
@maxLength(8)
param namePrefix string = 'ucc'

@description('Short upper-case names of the UC client secrets, e.g. [\'NORDLYS\']. Each becomes the app setting UCC_SECRET_<NAME> (a Key Vault reference to secret ucc-secret-<name>); tenant configs say "clientSecretRef": "env:UCC_SECRET_<NAME>".')
param ucClientSecretNames array = []

@description('App Service plan SKU (Linux, dedicated: always on, so the timer and Service Bus triggers run without a content file share).')
param planSku string = 'P0v3'

@description('UCC_HTTP_TIMEOUT_MS: timeout of each UC / Entra request.')
param httpTimeoutMs int = 10000

@description('UCC_STORE of the function app. dynamodb://TABLE (the shared production store; AWS credentials come from Key Vault secrets aws-access-key-id / aws-secret-access-key) or a path for the embedded store on the app\'s persistent /home share, which is single-instance only.')
param store string = '/home/data/ucc-state'

@description('AWS region of the DynamoDB table when store is dynamodb://TABLE.')
param awsRegion string = 'eu-north-1'

// The UC topic names are fixed per environment (agreed with Utility Cloud).
var topicName = environment == 'production' ? 'utilitycloudcontracteventsprod' : 'utilitycloudcontracteventstest'
var suffix = uniqueString(resourceGroup().id, environment)
var baseName = '${namePrefix}-${environment}'

// SPEC §3: only ChargingAgreement contract lifecycle events reach the connector; other UC
// traffic (e.g. TPContractCreated) is dropped at the subscription. The handler filters on the
// body again, because this filter is configuration and can be wrong.
// scripts/infra-check-sql-filter.py checks this text against the specified one, character for character.
var contractEventsFilter = 'ServiceType = \'ChargingAgreement\' AND EventName IN (\'ContractActivated\',\'ContractUpdated\',\'ContractTerminated\')'

// ---------------------------------------------------------------- Service Bus

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: '${baseName}-sb-${suffix}'
  location: location
  sku: {
    name: 'Standard' // topics and subscriptions need Standard or Premium
    tier: 'Standard'
  }
  properties: {
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled' // Utility Cloud publishes over the internet
    // SAS stays enabled for one thing only: the Send-only connection string of the topic
    // that is handed to Utility Cloud (below). The Function App uses its managed identity.
    disableLocalAuth: false
  }
}

resource topic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' = {
  parent: serviceBus
  name: topicName
  properties: {
    defaultMessageTimeToLive: 'P14D'
    maxSizeInMegabytes: 1024
    // No broker duplicate detection: the handler de-duplicates by EventID in the driver's
    // history, which also covers duplicates UC sends with different MessageIds.
    requiresDuplicateDetection: false
    enableBatchedOperations: true
  }
}

// Send-only key for Utility Cloud (brief §5.1: eMabler shares the topic connection string).
resource ucSendRule 'Microsoft.ServiceBus/namespaces/topics/authorizationRules@2022-10-01-preview' = {
  parent: topic
  name: 'utility-cloud-send'
  properties: {
    rights: [
      'Send'
    ]
  }
}

resource contractSubscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = {
  parent: topic
  name: 'ucc-connector'
  properties: {
    // Lock: the handler needs milliseconds per message, and the Functions host renews the
    // lock while it works; one minute means a message held by a crashed instance is
    // redelivered after at most a minute.
    lockDuration: 'PT1M'
    // Permanent failures never use this budget: the handler parks them in its own
    // dead-letter store and completes the message (SPEC §3). Only transient failures (store
    // throttled / unreachable) are retried; 10 deliveries span several minutes of outage
    // before Service Bus moves the message to this subscription's DLQ.
    maxDeliveryCount: 10
    // An event that expires unprocessed goes to the DLQ, never silently away.
    deadLetteringOnMessageExpiration: true
    deadLetteringOnFilterEvaluationExceptions: true
    defaultMessageTimeToLive: 'P14D'
    requiresSession: false // order is restored by the handler's fold over EventTime
    enableBatchedOperations: true
  }
}

// A rule named $Default replaces the subscription's default TrueFilter rule.
resource subscriptionFilter 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2022-10-01-preview' = {
  parent: contractSubscription
  name: '$Default'
  properties: {
    filterType: 'SqlFilter'
    sqlFilter: {
      sqlExpression: contractEventsFilter
    }
  }
}

// eMabler → connector: one session-completed event per message.
resource sessionQueue 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = {
  parent: serviceBus
  name: 'session-completed'
  properties: {
    lockDuration: 'PT2M' // pricing plus the first UC delivery attempt (UC timeout 10 s, GET + POST)
    maxDeliveryCount: 10
    deadLetteringOnMessageExpiration: true
    defaultMessageTimeToLive: 'P14D'
    requiresDuplicateDetection: false // intake is idempotent per transactionId
    requiresSession: false
    enableBatchedOperations: true
  }
}

// ---------------------------------------------------------------- monitoring

resource logs 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: '${baseName}-log-${suffix}'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 90
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${baseName}-appi-${suffix}'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    DisableLocalAuth: false // the Functions host sends with the connection string
  }
}

// ---------------------------------------------------------------- storage (Functions host)

resource storage 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  //checkov:skip=CKV_AZURE_35:the Functions host of a plan without VNet integration reaches its storage over the public endpoint; shared keys are disabled, only the app's Entra identity gets in
  //checkov:skip=CKV_AZURE_59:same as CKV_AZURE_35: public endpoint, but blob public access and shared-key auth are both off
  //checkov:skip=CKV_AZURE_43:the name is computed (take(prefix + env + 'st' + uniqueString, 24)): lowercase alphanumerics, 3-24 characters, which checkov cannot evaluate
  name: take('${namePrefix}${take(environment, 4)}st${suffix}', 24)
  location: location
  sku: {
    name: 'Standard_GRS'
  }
  kind: 'StorageV2'
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false // the host reaches it with its managed identity
    defaultToOAuthAuthentication: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      requireInfrastructureEncryption: true
      keySource: 'Microsoft.Storage'
      services: {
        blob: {
          enabled: true
        }
        file: {
          enabled: true
        }
        queue: {
          enabled: true
        }
        table: {
          enabled: true
        }
      }
    }
  }
}

// ---------------------------------------------------------------- Key Vault

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  //checkov:skip=CKV_AZURE_109:Key Vault references of a Function App without VNet integration come from shared App Service outbound addresses; access is RBAC-only (Key Vault Secrets User for the app)
  //checkov:skip=CKV_AZURE_189:same as CKV_AZURE_109
  name: take('${namePrefix}-${take(environment, 4)}-kv-${suffix}', 24)
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow' // App Service Key Vault references come from shared outbound IPs
      bypass: 'AzureServices'
    }
  }
}

// ---------------------------------------------------------------- Function App

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  //checkov:skip=CKV_AZURE_225:zone redundancy needs 3+ Premium v3 instances; the handler is stateless and Service Bus keeps messages through an outage (raise planSku/capacity where the SLA needs it)
  name: '${baseName}-plan-${suffix}'
  location: location
  kind: 'linux'
  sku: {
    name: planSku
  }
  properties: {
    reserved: true // Linux
    zoneRedundant: false
  }
}

var dynamoSettings = startsWith(store, 'dynamodb://') ? [
  {
    name: 'AWS_REGION'
    value: awsRegion
  }
  {
    name: 'AWS_ACCESS_KEY_ID'
    value: '@Microsoft.KeyVault(VaultName=${keyVault.name};SecretName=aws-access-key-id)'
  }
  {
    name: 'AWS_SECRET_ACCESS_KEY'
    value: '@Microsoft.KeyVault(VaultName=${keyVault.name};SecretName=aws-secret-access-key)'
  }
] : []

var secretSettings = [for name in ucClientSecretNames: {
  name: 'UCC_SECRET_${toUpper(name)}'
  value: '@Microsoft.KeyVault(VaultName=${keyVault.name};SecretName=ucc-secret-${toLower(name)})'
}]

resource functionApp 'Microsoft.Web/sites@2023-12-01' = {
  //checkov:skip=CKV_AZURE_222:the admin API (httpTrigger api/{*path}) is called by Utility Cloud over the internet; every request is authenticated with x-api-key (SPEC §7)
  //checkov:skip=CKV_AZURE_17:callers authenticate with x-api-key, not client certificates (SPEC §7)
  //checkov:skip=CKV_AZURE_212:one instance: Service Bus redelivers what an instance restart interrupts and timers catch up on the next tick
  //checkov:skip=CKV_AZURE_213:no unauthenticated endpoint to probe (every /api route needs x-api-key); the Functions host restarts a dead custom handler itself
  name: '${baseName}-func-${suffix}'
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      alwaysOn: true
      http20Enabled: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      remoteDebuggingEnabled: false
      appSettings: concat([
        {
          name: 'FUNCTIONS_EXTENSION_VERSION'
          value: '~4'
        }
        {
          name: 'FUNCTIONS_WORKER_RUNTIME'
          value: 'custom'
        }
        {
          name: 'WEBSITE_RUN_FROM_PACKAGE'
          value: '1' // zip deploy of target/azure/functionapp.zip
        }
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          // function.json: "connection": "ServiceBusConnection" (identity-based)
          name: 'ServiceBusConnection__fullyQualifiedNamespace'
          value: '${serviceBus.name}.servicebus.windows.net'
        }
        {
          name: 'UCC_CONTRACT_EVENTS_TOPIC'
          value: topicName
        }
        {
          name: 'UCC_CONTRACT_EVENTS_SUBSCRIPTION'
          value: contractSubscription.name
        }
        {
          name: 'UCC_SESSION_COMPLETED_QUEUE'
          value: sessionQueue.name
        }
        {
          name: 'UCC_STORE'
          value: store
        }
        {
          name: 'UCC_HTTP_TIMEOUT_MS'
          value: string(httpTimeoutMs)
        }
        {
          name: 'RUST_LOG'
          value: 'info'
        }
        {
          // the timers' NCRONTAB schedules (function.json) are read in Oslo time
          name: 'WEBSITE_TIME_ZONE'
          value: 'Europe/Oslo'
        }
        {
          name: 'UCC_ADMIN_KEY_REF'
          value: 'env:UCC_ADMIN_KEY'
        }
        {
          name: 'UCC_ADMIN_KEY'
          value: '@Microsoft.KeyVault(VaultName=${keyVault.name};SecretName=ucc-admin-key)'
        }
      ], secretSettings, dynamoSettings)
    }
  }
}

// ---------------------------------------------------------------- role assignments (managed identity)

var roles = {
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource sbReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(serviceBus.id, functionApp.id, roles.serviceBusDataReceiver)
  scope: serviceBus
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
  }
}

resource kvSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, functionApp.id, roles.keyVaultSecretsUser)
  scope: keyVault
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]: {
  name: guid(storage.id, functionApp.id, role)
  scope: storage
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
}]

// ---------------------------------------------------------------- outputs

output functionAppName string = functionApp.name
output functionAppHostName string = functionApp.properties.defaultHostName
output keyVaultName string = keyVault.name
output serviceBusNamespace string = serviceBus.name
output topicName string = topicName
output subscriptionName string = contractSubscription.name
output sessionCompletedQueue string = sessionQueue.name
@description('The Send-only rule whose connection string goes to Utility Cloud: az servicebus topic authorization-rule keys list --name utility-cloud-send …')
output ucSendRuleName string = ucSendRule.name
output appInsightsName string = appInsights.name
