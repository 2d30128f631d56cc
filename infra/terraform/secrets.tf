# Secrets: how a deployed function gets a UC client secret.
#
# A tenant config names its secret by reference (SPEC §11):
#   "clientSecretRef": "aws-sm:<environment>/uc-client-secret/<NAME>"
# (the `secret_refs` output lists them). The functions resolve it at RUN time with
# Secrets Manager GetSecretValue (shared/src/uc/secrets/aws_sm.rs), keep the value in memory
# for at most 5 minutes, and re-resolve at once when Entra refuses it. Consequences, on
# purpose and documented in docs/deploy.md:
#   - the values are in no Lambda environment variable and not in the Terraform state;
#   - a rotated value is used without a redeploy or restart (at the latest 5 minutes later,
#     at once when Entra already refuses the old one);
#   - the functions that call UC may read exactly these secrets (lambda.tf, "ReadSecrets").
# The admin platform key follows the same path: UCC_ADMIN_KEY_REF=aws-sm:<its path>, and so
# does the Service Bus key of servicebus-pull: UCC_SERVICEBUS_SAS_KEY_REF (or
# _CLIENT_SECRET_REF)=aws-sm:<its path>, readable by that function only.
#
# The map keys (UCC_SECRET_<NAME>, UCC_ADMIN_KEY) are only resource keys, kept so that
# existing secrets are not replaced.
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
    # SPEC §13: the ENTSO-E Transparency Platform API token of the spot-prices function.
    { UCC_ENTSOE_TOKEN = {
      path        = "${local.name}/entsoe-token"
      description = "ENTSO-E Transparency Platform API security token (spot-prices)"
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

locals {
  # The reference of each secret, as tenant configs and UCC_ADMIN_KEY_REF name it.
  secret_refs = { for k, v in local.secrets : k => "aws-sm:${v.path}" }
  # The ARNs each kind of function may read.
  uc_secret_arns = [for k, s in aws_secretsmanager_secret.this : s.arn if !contains(["UCC_ADMIN_KEY", "UCC_SERVICEBUS_KEY", "UCC_ENTSOE_TOKEN"], k)]
}
