environment = "staging"
aws_region  = "eu-north-1"

# One entry per tenant credential; the tenant config uses the
# "clientSecretRef" of output secret_refs ("aws-sm:<environment>/uc-client-secret/<NAME>").
uc_client_secrets = {
  NORDLYS = "Nordlys Energi AS: Entra app registration client secret (staging UC tenant)"
}

log_retention_days        = 365
table_deletion_protection = false
alarm_email               = ""
