// Utility Cloud Connector on Azure: the UC contract-events topic subscription with its SQL
// filter, the session-completed queue, and the Function App running the `ucc` custom handler
// (target/azure/functionapp.zip from `make package`) with a system-assigned managed identity,
// Key Vault references for secrets and Application Insights. State is in Azure Table Storage
// (UCC_STORE=azuretable://<this template's storage account>/ucc, reached with the managed
// identity; no shared keys), so the app runs on several instances; the embedded file store
// remains an option for a single instance (storeKind). Alert rules watch what the AWS alarms
// watch (infra/terraform/alarms.tf). See docs/deploy.md.
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

@description('Short upper-case names of the UC client secrets, e.g. [\'NORDLYS\']. Each is Key Vault secret ucc-secret-<name>. Tenant configs say "clientSecretRef": "keyvault:https://<vault>.vault.azure.net/secrets/ucc-secret-<name>" (output secretRefs; read at run time with the app\'s managed identity, a rotation is used without a restart), or the older "env:UCC_SECRET_<NAME>" (an app setting holding a Key Vault reference, which App Service refreshes only about daily or on restart).')
param ucClientSecretNames array = []

@description('App Service plan SKU (Linux, dedicated: always on, so the timer and Service Bus triggers run without a content file share).')
param planSku string = 'P0v3'

@description('UCC_HTTP_TIMEOUT_MS: timeout of each UC / Entra request.')
param httpTimeoutMs int = 10000

@description('Where the app keeps its state. azuretable (default): UCC_STORE=azuretable://<this template\'s storage account>/<storeTable>, reached with the app\'s managed identity (Storage Table Data Contributor on the account); the plan runs instanceCount instances. embedded: the file store on the app\'s persistent /home share, which one process must own, so the plan is held at one instance.')
@allowed([
  'azuretable'
  'embedded'
])
param storeKind string = 'azuretable'

@description('Table of the azuretable store (3-63 letters and digits, starting with a letter). The template creates it; the app would otherwise create it on first use.')
@minLength(3)
@maxLength(63)
param storeTable string = 'ucc'

@description('Explicit UCC_STORE, overriding storeKind, e.g. dynamodb://TABLE (the shared AWS store; AWS credentials come from Key Vault secrets aws-access-key-id / aws-secret-access-key). Empty: derived from storeKind.')
param store string = ''

@description('Instances of the plan when the store is shared (azuretable, dynamodb). The embedded store always runs on exactly one.')
@minValue(1)
@maxValue(30)
param instanceCount int = 2

@description('Optional e-mail address that receives every alert (the action group\'s e-mail receiver). Empty: the action group has no receiver until one is added.')
param alertEmail string = ''

@description('Alert when the oldest pending UC delivery is older than this many minutes.')
@minValue(1)
param oldestPendingAlertMinutes int = 60

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

// ---------------------------------------------------------------- storage (Functions host and the state table)

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
    allowSharedKeyAccess: false // the host and the azuretable store reach it with the app's managed identity
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

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-01-01' = {
  parent: storage
  name: 'default'
}

// The azuretable store's table (SPEC §9). The store creates it when absent as well; declaring it
// here makes it part of the deployment and leaves nothing to create on the first request.
resource stateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-01-01' = if (empty(store) && storeKind == 'azuretable') {
  parent: tableService
  name: storeTable
}

// UCC_STORE. No UCC_AZURE_STORAGE_KEY_REF and no UCC_AZURE_TABLE_ENDPOINT are set: the store
// signs its requests with the managed identity (IDENTITY_ENDPOINT / IDENTITY_HEADER, resource
// https://storage.azure.com/) at https://<account>.table.core.windows.net; the account refuses
// shared keys anyway.
var uccStore = !empty(store) ? store : (storeKind == 'embedded' ? '/home/data/ucc-state' : 'azuretable://${storage.name}/${storeTable}')
// Table Storage and DynamoDB are shared by every instance; a path is the embedded store, whose
// file one process must own.
var sharedStore = startsWith(uccStore, 'azuretable://') || startsWith(uccStore, 'dynamodb://')
var instances = sharedStore ? instanceCount : 1

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
    // Every instance runs the app: Service Bus triggers and the admin API spread over them;
    // each timer tick runs on one instance only (the host's blob lease).
    capacity: instances
  }
  properties: {
    reserved: true // Linux
    perSiteScaling: false
    zoneRedundant: false
  }
}

var dynamoSettings = startsWith(uccStore, 'dynamodb://') ? [
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
  //checkov:skip=CKV_AZURE_212:the instance count is the plan's sku.capacity (instanceCount, 2 by default with the shared Table Storage store; 1 only for the embedded store, which one process must own); checkov reads only the site's numberOfWorkers, which per-site scaling (off) would use
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
          // identity-based host storage (no connection string, no key): the host's blobs and
          // diagnostic-event table in this account, with the roles below
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
          value: uccStore
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
        {
          // SPEC §13: the ENTSO-E API token of the /spot-prices timer (docs/deploy.md)
          name: 'UCC_ENTSOE_TOKEN_REF'
          value: 'env:UCC_ENTSOE_TOKEN'
        }
        {
          name: 'UCC_ENTSOE_TOKEN'
          value: '@Microsoft.KeyVault(VaultName=${keyVault.name};SecretName=entsoe-token)'
        }
      ], secretSettings, dynamoSettings)
    }
  }
}

// ---------------------------------------------------------------- role assignments (managed identity)

// Built-in role definition ids (learn.microsoft.com, "Azure built-in roles").
var roles = {
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
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

// Functions host storage with an identity (AzureWebJobsStorage__accountName). Microsoft's
// documented requirement for the host alone and for timer triggers is Storage Blob Data Owner
// (coordination, the key store, the timers' singleton locks); Storage Queue Data Contributor is
// needed only by blob triggers and Durable Functions, which this app does not have.
resource hostBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
  }
}

// Storage Table Data Contributor on the account: the azuretable store's reads, writes, batches
// and table creation, and the host's diagnostic events (also a table of this account). Assigned
// whatever the store, so the host's diagnostics work with the embedded store too.
resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, functionApp.id, roles.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: functionApp.identity.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
  }
}

// ---------------------------------------------------------------- alerts
// What infra/terraform/alarms.tf watches on AWS, watched the same way here, all notifying one
// action group (docs/deploy.md, "Reading the alerts"). Where each number comes from:
//   - DLQ depth: the Service Bus platform metric DeadletteredMessages, per entity (EntityName).
//     Service Bus reports it per queue and per topic; a topic's value counts the dead-letter
//     queues of its subscriptions, and ucc-connector is the topic's only subscription.
//   - tenants authBlocked, oldest pending delivery, delivery-retry not running: log alerts on
//     the one JSON line each delivery-retry run logs, the same line the AWS metric filters read
//     ({"fields":{"message":"delivery-retry sweep","tenants_blocked":N,"oldest_pending_age_secs":S,…}}).
//     The Functions host forwards every line the custom handler writes to stderr to Application
//     Insights as a `traces` row (category Host.Function.Console) whose message is the line.
//   - store-sweep not running and function failures: the `requests` row the Functions host
//     records for every invocation (name = the function's name, success).

resource alertGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${baseName}-alerts'
  location: 'Global'
  properties: {
    groupShortName: take('${namePrefix}-${take(environment, 4)}', 12) // at most 12 characters, shown in SMS / e-mail
    enabled: true
    emailReceivers: empty(alertEmail) ? [] : [
      {
        name: 'on-call'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var deadLetterEntities = [
  {
    key: 'contract-events'
    entity: topicName
    what: 'UC contract events (topic ${topicName}, subscription ucc-connector)'
  }
  {
    key: 'session-completed'
    entity: 'session-completed'
    what: 'session-completed events (queue session-completed)'
  }
]

resource dlqAlerts 'Microsoft.Insights/metricAlerts@2018-03-01' = [for e in deadLetterEntities: {
  name: '${baseName}-${e.key}-dlq-not-empty'
  location: 'global'
  properties: {
    description: 'Dead-lettered ${e.what}: they failed 10 deliveries (store down for long, or a bug) or expired. Inspect, fix, then resubmit (docs/deploy.md).'
    severity: 1
    enabled: true
    scopes: [
      serviceBus.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true // resolved (and notified) when the dead-letter queue is empty again
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'dead-lettered'
          metricNamespace: 'Microsoft.ServiceBus/namespaces'
          metricName: 'DeadletteredMessages'
          dimensions: [
            {
              name: 'EntityName'
              operator: 'Include'
              values: [
                e.entity
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          timeAggregation: 'Maximum'
          skipMetricValidation: false
        }
      ]
    }
    actions: [
      {
        actionGroupId: alertGroup.id
      }
    ]
  }
  dependsOn: [
    topic
    sessionQueue
  ]
}]

// The delivery-retry run's JSON line (functions/delivery-retry/src/main.rs on AWS; the custom
// handler's /delivery-retry route on Azure), as a parsed `line`.
var sweepLines = 'traces\n| where message has "delivery-retry sweep"\n| extend line = parse_json(message)\n| where tostring(line.fields.message) == "delivery-retry sweep"'

resource tenantsBlockedAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${baseName}-tenant-auth-blocked'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: '${baseName}-tenant-auth-blocked'
    description: 'At least one tenant is authBlocked: Entra refuses its UC client secret (expired or rotated), or UC answers 401 to fresh tokens. Deliveries wait, nothing is dropped. Rotate the secret (docs/deploy.md).'
    severity: 2
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: '${sweepLines}\n| extend tenants_blocked = toint(line.fields.tenants_blocked)\n| project timestamp, tenants_blocked'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'tenants_blocked'
          operator: 'GreaterThan'
          threshold: 0
          // like the AWS alarm: two 5-minute periods in a row
          failingPeriods: {
            numberOfEvaluationPeriods: 2
            minFailingPeriodsToAlert: 2
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        alertGroup.id
      ]
    }
  }
}

resource oldestPendingAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${baseName}-oldest-pending-delivery'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: '${baseName}-oldest-pending-delivery'
    description: 'A UC delivery has been pending for over ${oldestPendingAlertMinutes} minutes (UC down, throttling, or an authBlocked tenant). `ucc deliveries list --state pending` shows which.'
    severity: 2
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: '${sweepLines}\n| extend oldest_pending_age_secs = tolong(line.fields.oldest_pending_age_secs)\n| project timestamp, oldest_pending_age_secs'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'oldest_pending_age_secs'
          operator: 'GreaterThan'
          threshold: oldestPendingAlertMinutes * 60
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        alertGroup.id
      ]
    }
  }
}

// The delivery-retry timer must run: no sweep line for 15 minutes means the timer, the host or
// the handler is broken, and neither alert above can fire.
resource deliveryRetryMissingAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${baseName}-delivery-retry-not-running'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: '${baseName}-delivery-retry-not-running'
    description: 'No delivery-retry run reported in 15 minutes: check the function app, the delivery-retry timer and its failures in Application Insights.'
    severity: 1
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: sweepLines
          timeAggregation: 'Count' // no rows count as 0: an absent line fires the alert
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        alertGroup.id
      ]
    }
  }
}

// The store-sweep timer (hourly) deletes expired rows of the state table: Table Storage has no
// TTL. Three hours without a successful run means two runs missed.
resource storeSweepMissingAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${baseName}-store-sweep-not-running'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: '${baseName}-store-sweep-not-running'
    description: 'No successful store-sweep run in 3 hours: expired rows (log entries past retention) stay in the table until it runs again. Check the function app and the store-sweep failures in Application Insights.'
    severity: 3
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT3H'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'requests\n| where name == "store-sweep" and success == true'
          timeAggregation: 'Count'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        alertGroup.id
      ]
    }
  }
}

// Like the AWS `…-<function>-errors` alarms: failed invocations in three 5-minute periods in a
// row, per function. A failed invocation is a non-2xx answer of the handler: a Service Bus
// message that will be redelivered or a timer run that failed. The admin API's 4xx answers
// (bad key, invalid input) are the caller's errors and not counted.
resource functionErrorsAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${baseName}-function-errors'
  location: location
  kind: 'LogAlert'
  properties: {
    displayName: '${baseName}-function-errors'
    description: 'A function failed invocations for 15 minutes (transient store / network failures are retried; a steady rate is not transient). The alert names the function; read its failures in Application Insights.'
    severity: 2
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'requests\n| where success == false\n| where not(name == "admin-api" and toint(resultCode) between (400 .. 499))\n| project timestamp, name'
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          dimensions: [
            {
              name: 'name'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          failingPeriods: {
            numberOfEvaluationPeriods: 3
            minFailingPeriodsToAlert: 3
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        alertGroup.id
      ]
    }
  }
}

// ---------------------------------------------------------------- outputs

output functionAppName string = functionApp.name
output functionAppHostName string = functionApp.properties.defaultHostName
output keyVaultName string = keyVault.name
@description('The clientSecretRef of each UC client secret (SPEC §11): resolved at run time from Key Vault with the app\'s managed identity (Key Vault Secrets User).')
output secretRefs array = [for name in ucClientSecretNames: {
  name: toUpper(name)
  clientSecretRef: 'keyvault:${keyVault.properties.vaultUri}secrets/ucc-secret-${toLower(name)}'
}]
output serviceBusNamespace string = serviceBus.name
output topicName string = topicName
output subscriptionName string = contractSubscription.name
output sessionCompletedQueue string = sessionQueue.name
@description('The Send-only rule whose connection string goes to Utility Cloud: az servicebus topic authorization-rule keys list --name utility-cloud-send …')
output ucSendRuleName string = ucSendRule.name
output appInsightsName string = appInsights.name
@description('UCC_STORE of the function app (azuretable://ACCOUNT/TABLE by default).')
output store string = uccStore
@description('Instances of the plan: instanceCount with a shared store, 1 with the embedded store.')
output instances int = instances
output alertActionGroup string = alertGroup.name
output storageAccountName string = storage.name
