using 'main.bicep'

param environment = 'staging'
param ucClientSecretNames = [
  'NORDLYS'
]
param planSku = 'B1'
