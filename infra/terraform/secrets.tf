# Secrets: how a deployed function gets a UC client secret.
#
# A tenant config names its secret by reference, "clientSecretRef": "env:UCC_SECRET_<NAME>"
# (shared/src/uc/secrets.rs resolves env: and file: at the moment of use). Here each
# secret lives in Secrets Manager and is resolved at DEPLOY time: `terraform apply` reads its
# current value and sets it as the Lambda environment variable UCC_SECRET_<NAME>, encrypted
# with this environment's KMS key. Consequences, on purpose and documented in docs/deploy.md:
#   - the functions need no Secrets Manager permission and make no call at cold start;
#   - a rotated value reaches the functions on the next `terraform apply`;
#   - the value is in the Terraform state: keep state in an encrypted, access-controlled
#     backend (see versions.tf).
# The admin platform key follows the same path: UCC_ADMIN_KEY_REF=env:UCC_ADMIN_KEY, and so
# does the Service Bus key: UCC_SERVICEBUS_SAS_KEY_REF (or _CLIENT_SECRET_REF)=env:UCC_SERVICEBUS_KEY.
#
# Every secret starts with a random value that Terraform never changes again
# (ignore_changes): the operator puts the real one with `aws secretsmanager put-secret-value`.
# A random start value fails authentication harmlessly (the tenant goes authBlocked, nothing
# is dropped) and is never a guessable admin key.

locals {
  secrets = merge(
    { for name, desc in var.uc_client_secrets : "UCC_SECRET_${name}" => {
      path        = "${local.name}/uc-client-secret/${name}"
      description = desc
    } },
    # SPEC §10: the servicebus-pull function's credential, the SAS key of
    # var.servicebus_sas_key_name or (SAS name empty) the Entra client secret.
    { UCC_SERVICEBUS_KEY = {
      path        = "${local.name}/servicebus-key"
      description = var.servicebus_sas_key_name != "" ? "Service Bus SAS key of policy ${var.servicebus_sas_key_name} (Listen)" : "Entra client secret of ${var.servicebus_client_id} (Azure Service Bus Data Receiver)"
    } },
    var.enable_admin_api ? { UCC_ADMIN_KEY = {
      path        = "${local.name}/admin-platform-key"
      description = "Admin API platform key (x-api-key that can create tenants and act on any tenant)"
    } } : {}
  )
}

data "aws_secretsmanager_random_password" "initial" {
  for_each            = local.secrets
  password_length     = 48
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "this" {
  for_each = local.secrets
  #checkov:skip=CKV2_AWS_57:UC client secrets are issued by the operator's Entra app registration and rotated with them by hand (docs/deploy.md, "Rotate a secret"); a rotation Lambda cannot mint them
  name                    = each.value.path
  description             = each.value.description
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "initial" {
  for_each      = local.secrets
  secret_id     = aws_secretsmanager_secret.this[each.key].id
  secret_string = data.aws_secretsmanager_random_password.initial[each.key].random_password

  lifecycle {
    ignore_changes = [secret_string]
  }
}

# The current value (AWSCURRENT), read at every plan/apply.
data "aws_secretsmanager_secret_version" "current" {
  for_each   = local.secrets
  secret_id  = aws_secretsmanager_secret.this[each.key].id
  depends_on = [aws_secretsmanager_secret_version.initial]
}
