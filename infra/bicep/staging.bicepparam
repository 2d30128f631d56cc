using 'main.bicep'

param environment = 'staging'
param ucClientSecretNames = [
  'NORDLYS'
]
param planSku = 'B1'
// Same store and instance count as production, so staging runs the scaled-out path too.
param storeKind = 'azuretable'
param instanceCount = 2
param alertEmail = ''
