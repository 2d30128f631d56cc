environment = "production"
aws_region  = "eu-north-1"

uc_client_secrets = {
  NORDLYS = "Nordlys Energi AS: Entra app registration client secret (production UC tenant)"
}

log_retention_days        = 365
table_deletion_protection = true
alarm_email               = ""
