# One Lambda per function, each from its own zip (target/lambda/<function>.zip, a `bootstrap`
# for the provided.al2023 runtime built by `make package`).

locals {
  # Secrets are resolved at run time (secrets.tf): only the reference is in the environment.
  admin_env = var.enable_admin_api ? {
    UCC_ADMIN_KEY_REF = local.secret_refs["UCC_ADMIN_KEY"]
  } : {}
  servicebus_env = merge(
    {
      UCC_SERVICEBUS_ENDPOINT    = trimsuffix(var.servicebus_endpoint, "/")
      UCC_SERVICEBUS_ENTITY      = var.servicebus_entity
      UCC_SERVICEBUS_RUN_SECONDS = "70"
    },
    var.servicebus_sas_key_name != "" ? {
      UCC_SERVICEBUS_SAS_KEY_NAME = var.servicebus_sas_key_name
      UCC_SERVICEBUS_SAS_KEY_REF  = local.secret_refs["UCC_SERVICEBUS_KEY"]
      } : {
      UCC_SERVICEBUS_TENANT_ID         = var.servicebus_tenant_id
      UCC_SERVICEBUS_CLIENT_ID         = var.servicebus_client_id
      UCC_SERVICEBUS_CLIENT_SECRET_REF = local.secret_refs["UCC_SERVICEBUS_KEY"]
    },
  )
  common_env = {
    UCC_STORE           = "dynamodb://${aws_dynamodb_table.state.name}"
    UCC_HTTP_TIMEOUT_MS = tostring(var.http_timeout_ms)
    RUST_LOG            = var.rust_log
  }
}

locals {
  readable_secrets = { for k, v in local.functions : k => concat(
    v.uc_secrets ? local.uc_secret_arns : [],
    k == "admin-api" ? [aws_secretsmanager_secret.this["UCC_ADMIN_KEY"].arn] : [],
    k == "servicebus-pull" ? [aws_secretsmanager_secret.this["UCC_SERVICEBUS_KEY"].arn] : [],
    k == "spot-prices" ? [aws_secretsmanager_secret.this["UCC_ENTSOE_TOKEN"].arn] : [],
  ) }
}

resource "aws_cloudwatch_log_group" "fn" {
  for_each          = local.functions
  name              = "/aws/lambda/${local.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "fn" {
  for_each           = local.functions
  name               = "${local.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

data "aws_iam_policy_document" "fn" {
  for_each = local.functions

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.fn[each.key].arn}:*"]
  }

  statement {
    sid       = "Table"
    actions   = local.table_actions[each.key]
    resources = [aws_dynamodb_table.state.arn]
  }

  dynamic "statement" {
    for_each = length(local.index_actions[each.key]) > 0 ? [1] : []
    content {
      sid       = "DueIndex"
      actions   = local.index_actions[each.key]
      resources = ["${aws_dynamodb_table.state.arn}/index/due"]
    }
  }

  # Tenant client secrets (and the admin platform key), read at run time by the functions
  # that call UC or check the key: GetSecretValue on exactly those secrets.
  dynamic "statement" {
    for_each = length(local.readable_secrets[each.key]) > 0 ? [1] : []
    content {
      sid       = "ReadSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = local.readable_secrets[each.key]
    }
  }

  # The environment variables and the secrets are encrypted with the CMK: Lambda decrypts the
  # environment, Secrets Manager the secret values, both with the function's role.
  statement {
    sid       = "DecryptEnvironment"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.main.arn]
  }

  # The table is encrypted with the CMK: DynamoDB uses it on the caller's behalf.
  statement {
    sid       = "TableKeyViaDynamoDB"
    actions   = ["kms:Encrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = [aws_kms_key.main.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["dynamodb.${var.aws_region}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = contains(["contract-events", "session-completed"], each.key) ? [1] : []
    content {
      sid       = "ConsumeQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [aws_sqs_queue.inbound[each.key].arn]
    }
  }
}

resource "aws_iam_role_policy" "fn" {
  for_each = local.functions
  name     = "least-privilege"
  role     = aws_iam_role.fn[each.key].id
  policy   = data.aws_iam_policy_document.fn[each.key].json
}

resource "aws_lambda_function" "fn" {
  for_each = local.functions
  #checkov:skip=CKV_AWS_117:no private resources to reach; the functions call DynamoDB and the public UC / Entra endpoints, a VPC would only add a NAT gateway
  #checkov:skip=CKV_AWS_50:the Rust runtime emits no X-Ray segments; every JSON log line carries tenant and event/transaction id instead
  #checkov:skip=CKV_AWS_272:artifacts are built by `make package` in the deploy pipeline and pinned by source_code_hash; no AWS Signer profile in this setup
  #checkov:skip=CKV_AWS_116:no asynchronous-invoke DLQ: queue-fed functions use their queues' redrive DLQs, timer runs are idempotent and the next tick retries
  function_name                  = "${local.name}-${each.key}"
  description                    = each.value.description
  role                           = aws_iam_role.fn[each.key].arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = [var.lambda_architecture]
  filename                       = "${var.artifacts_dir}/${each.key}.zip"
  source_code_hash               = filebase64sha256("${var.artifacts_dir}/${each.key}.zip")
  timeout                        = each.value.timeout
  memory_size                    = each.value.memory
  reserved_concurrent_executions = lookup(var.reserved_concurrency, each.key, -1)
  kms_key_arn                    = aws_kms_key.main.arn

  environment {
    variables = merge(
      local.common_env,
      each.key == "admin-api" ? local.admin_env : {},
      each.key == "servicebus-pull" ? local.servicebus_env : {},
      each.key == "spot-prices" ? { UCC_ENTSOE_TOKEN_REF = local.secret_refs["UCC_ENTSOE_TOKEN"] } : {},
    )
  }

  logging_config {
    log_format = "Text" # our bootstraps already write one JSON object per line
    log_group  = aws_cloudwatch_log_group.fn[each.key].name
  }

  depends_on = [aws_iam_role_policy.fn]
}

# The admin API is called by UC and support tooling with an x-api-key header (SPEC §7), so the
# URL itself is public and the function authenticates every request.
resource "aws_lambda_function_url" "admin" {
  count = var.enable_admin_api ? 1 : 0
  #checkov:skip=CKV_AWS_258:callers (UC, support) have no AWS credentials; every /api request is authenticated by the function with x-api-key (SPEC §7) and answers 401 otherwise
  function_name      = aws_lambda_function.fn["admin-api"].function_name
  authorization_type = "NONE"
}
