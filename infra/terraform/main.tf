# Utility Cloud Connector on AWS: one DynamoDB table, one Lambda per function, the
# session-completed (and contract-events) SQS queues with DLQs, EventBridge Scheduler timers,
# Secrets Manager entries for UC client secrets, log groups, alarms. See docs/deploy.md.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  name       = "${var.name_prefix}-${var.environment}"
  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # DynamoDB actions per function, derived from the store calls each handler path makes
  # (shared/src: contract/handler.rs, delivery/{intake,mod,sweep,reconcile}.rs, registry.rs,
  # parked.rs, log.rs). TransactWriteItems is authorised per item as PutItem / DeleteItem /
  # ConditionCheckItem; there is no UpdateItem anywhere in the store.
  table_actions = {
    contract-events   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"]
    servicebus-pull   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"] # the contract-events handler
    session-completed = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem"]
    # registry::list (Query on the tenant directory) for the authBlocked probe
    delivery-retry = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:ConditionCheckItem", "dynamodb:Query"]
    reconciliation = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    # SPEC §13: tenant directory and configs (areas in use), the day items (read, conditional
    # put), the ECB rate items (put).
    spot-prices = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"]
    admin-api   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:ConditionCheckItem", "dynamodb:Query"]
  }
  # Query on the sparse `due` index (next delivery attempt).
  index_actions = {
    contract-events   = []
    servicebus-pull   = []
    session-completed = []
    delivery-retry    = ["dynamodb:Query"]
    reconciliation    = []
    spot-prices       = []
    admin-api         = ["dynamodb:Query"]
  }

  # The longest attempt (10 chained calls at the HTTP timeout) plus the store writes around it.
  max_attempt_secs = ceil(var.http_timeout_ms * 10 / 1000) + 30
  session_timeout  = min(900, max(300, 3 * local.max_attempt_secs))

  all_functions = {
    contract-events = {
      description = "UC contract events (SQS batch of Service Bus message bodies)"
      timeout     = 30
      memory      = 256
      uc_secrets  = false # never calls UC
    }
    # SPEC §10: contract events from the Service Bus subscription over REST (peek-lock). The
    # one-minute schedule (scheduler.tf) invokes it; each run receives for 70 s
    # (UCC_SERVICEBUS_RUN_SECONDS), longer than the interval, so a driver exists within
    # seconds of its event. Reserved concurrency 1: at most one run (plus its loops) at once.
    servicebus-pull = {
      description = "Timer (every minute): receive UC contract events from Service Bus (REST, peek-lock)"
      timeout     = 90 # 70 s of receiving, then settling in-flight messages
      memory      = 256
      uc_secrets  = false # never calls UC
    }
    # SPEC §6: an attempt chains up to 10 UC/Entra calls, each at most var.http_timeout_ms
    # (10 s by default: 100 s, the lease 130 s). A batch of 10 sessions usually takes well
    # under a second; a first attempt that could not finish before the invocation's deadline
    # is not started (the record stays pending for delivery-retry), so no timeout below cuts
    # an attempt halfway. The SQS visibility timeouts are 6 × these (sqs.tf).
    session-completed = {
      description = "eMabler session-completed events: price and deliver to UC"
      timeout     = local.session_timeout
      memory      = 256
      uc_secrets  = true
    }
    delivery-retry = {
      description = "Timer (every minute): retry pending UC deliveries, probe authBlocked tenants"
      timeout     = 900 # the sweep stops claiming records when an attempt could not finish
      memory      = 256
      uc_secrets  = true
    }
    reconciliation = {
      description = "Timer (daily): refresh revenue-share reconciliation entries"
      timeout     = 300
      memory      = 256
      uc_secrets  = false # store only
    }
    # SPEC §13: every 10 minutes; after 13:00 CET it fetches tomorrow's day-ahead prices of
    # the areas the tariffs use until complete (ENTSO-E, token UCC_ENTSOE_TOKEN_REF) and the
    # ECB rates; logs alarm="spotPricesMissing" from 18:00 CET while a day is incomplete.
    spot-prices = {
      description = "Timer (every 10 minutes): fetch tomorrow's ENTSO-E day-ahead prices and ECB rates"
      timeout     = 120
      memory      = 256
      uc_secrets  = false # ENTSO-E token only
    }
    admin-api = {
      description = "Admin API (Function URL, x-api-key)"
      timeout     = 30
      memory      = 256
      uc_secrets  = true # re-drives deliveries
    }
  }
  functions = { for k, v in local.all_functions : k => v if k != "admin-api" || var.enable_admin_api }
}

# One customer managed key per environment: table, Lambda environment variables, secrets,
# log groups and the alarm topic.
resource "aws_kms_key" "main" {
  description             = "${local.name}: DynamoDB table, Lambda environment, secrets, logs, alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms.json
}

resource "aws_kms_alias" "main" {
  name          = "alias/${local.name}"
  target_key_id = aws_kms_key.main.key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_111:a KEY policy: "*" resources mean this key only; use is granted per role by IAM (lambda.tf) and to logs / cloudwatch with conditions
  #checkov:skip=CKV_AWS_356:a KEY policy: "*" resources mean this key only
  #checkov:skip=CKV_AWS_109:a KEY policy: the account root statement is the AWS default that lets IAM policies in this account govern the key
  # Key administration and use are then granted by IAM policies in this account (the Lambda
  # roles get Decrypt only; see lambda.tf).
  statement {
    sid       = "AccountIamPolicies"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogs"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${var.aws_region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${var.aws_region}:${local.account_id}:log-group:/aws/lambda/${local.name}-*"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsToEncryptedTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}
