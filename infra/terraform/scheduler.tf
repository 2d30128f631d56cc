# EventBridge Scheduler: the timers. The functions ignore the event content.

resource "aws_scheduler_schedule_group" "ucc" {
  name = local.name
}

data "aws_iam_policy_document" "assume_scheduler" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  name               = "${local.name}-scheduler"
  assume_role_policy = data.aws_iam_policy_document.assume_scheduler.json
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    actions = ["lambda:InvokeFunction"]
    resources = [
      aws_lambda_function.fn["delivery-retry"].arn,
      aws_lambda_function.fn["reconciliation"].arn,
      aws_lambda_function.fn["servicebus-pull"].arn,
      aws_lambda_function.fn["spot-prices"].arn,
    ]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-timers"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

locals {
  schedules = {
    delivery-retry = {
      expression = "rate(1 minute)"
      # a missed tick is covered by the next one a minute later: no retries
      retries = 0
      max_age = 60
    }
    # SPEC §10: each run receives for 70 s, so runs overlap a little and no minute is without
    # a receiver; reserved concurrency 1 (variables.tf) makes an overlapping tick wait/throttle.
    servicebus-pull = {
      expression = "rate(1 minute)"
      retries    = 0 # the next tick is a minute away; messages wait on the subscription
      max_age    = 60
    }
    # SPEC §13: the function itself waits for 13:00 CET and stops once tomorrow is complete.
    spot-prices = {
      expression = "rate(10 minutes)"
      retries    = 0 # the next tick retries
      max_age    = 600
    }
    reconciliation = {
      expression = "cron(30 2 * * ? *)" # daily 02:30 Europe/Oslo, after the night's sessions
      retries    = 3
      max_age    = 3600
    }
  }
}

resource "aws_scheduler_schedule" "timer" {
  for_each = local.schedules
  #checkov:skip=CKV_AWS_297:the only data a schedule encrypts is its target input, a constant "{}" here; the AWS-owned key suffices
  name                         = "${local.name}-${each.key}"
  group_name                   = aws_scheduler_schedule_group.ucc.name
  schedule_expression          = each.value.expression
  schedule_expression_timezone = "Europe/Oslo"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.fn[each.key].arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({})

    retry_policy {
      maximum_retry_attempts       = each.value.retries
      maximum_event_age_in_seconds = each.value.max_age
    }
  }
}
