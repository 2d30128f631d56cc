using 'main.bicep'

param environment = 'production'
param ucClientSecretNames = [
  'NORDLYS'
]
