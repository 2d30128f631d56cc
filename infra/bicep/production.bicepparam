using 'main.bicep'

param environment = 'production'
param ucClientSecretNames = [
  'NORDLYS'
]
// State in Table Storage (azuretable://<the app's storage account>/ucc), scaled out.
param storeKind = 'azuretable'
param instanceCount = 2
// Receiver of every alert (like Terraform's alarm_email); empty: add receivers to the action group.
param alertEmail = ''
