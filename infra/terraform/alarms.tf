# Alarms, all to one SNS topic (docs/deploy.md, "Reading the alarms").
#
# Where each number comes from:
#   - DLQ depth: the SQS metric ApproximateNumberOfMessagesVisible of each DLQ.
#   - tenants authBlocked and oldest pending delivery age: CloudWatch Logs METRIC FILTERS on
#     the one JSON line the delivery-retry function logs per run
#     ({"fields":{"message":"delivery-retry sweep","tenants_blocked":N,
#       "oldest_pending_age_secs":S,…}}, functions/delivery-retry/src/main.rs). No custom
#     metric API call and no extra IAM permission is needed.
#   - function errors: the Lambda Errors metric (a handler Err = a retried batch or timer;
#     for servicebus-pull also a Service Bus 401/403: a wrong SAS key or Entra secret).
#   - Service Bus lost locks: a METRIC FILTER on servicebus-pull's
#     {"fields":{"message":"servicebus lock lost",…}} line (functions/common/src/servicebus/pull.rs).

locals {
  metric_namespace = "UCC/${var.environment}"
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.name}-alarms"
  kms_master_key_id = aws_kms_key.main.arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each            = local.inbound
  alarm_name          = "${local.name}-${each.key}-dlq-not-empty"
  alarm_description   = "Messages in the ${each.key} DLQ: they failed ${each.value.max_receive_count} deliveries (store down for long, or a bug). Inspect, fix, then redrive (docs/deploy.md)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_log_metric_filter" "tenants_blocked" {
  name           = "${local.name}-tenants-auth-blocked"
  log_group_name = aws_cloudwatch_log_group.fn["delivery-retry"].name
  pattern        = "{ $.fields.message = \"delivery-retry sweep\" }"

  metric_transformation {
    name      = "TenantsAuthBlocked"
    namespace = local.metric_namespace
    value     = "$.fields.tenants_blocked"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_log_metric_filter" "oldest_pending" {
  name           = "${local.name}-oldest-pending-delivery-age"
  log_group_name = aws_cloudwatch_log_group.fn["delivery-retry"].name
  pattern        = "{ $.fields.message = \"delivery-retry sweep\" }"

  metric_transformation {
    name      = "OldestPendingDeliveryAgeSeconds"
    namespace = local.metric_namespace
    value     = "$.fields.oldest_pending_age_secs"
    unit      = "Seconds"
  }
}

resource "aws_cloudwatch_metric_alarm" "tenants_blocked" {
  alarm_name          = "${local.name}-tenant-auth-blocked"
  alarm_description   = "At least one tenant is authBlocked: Entra refuses its UC client secret (expired or rotated). Deliveries wait, nothing is dropped. Rotate the secret (docs/deploy.md)."
  namespace           = local.metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.tenants_blocked.metric_transformation[0].name
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "oldest_pending" {
  alarm_name          = "${local.name}-oldest-pending-delivery"
  alarm_description   = "A UC delivery has been pending for over ${var.oldest_pending_alarm_minutes} minutes (UC down, throttling, or an authBlocked tenant). `ucc deliveries list --state pending` shows which."
  namespace           = local.metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.oldest_pending.metric_transformation[0].name
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.oldest_pending_alarm_minutes * 60
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# The delivery-retry timer must run: no sweep line for 15 minutes means the timer or the
# function is broken and neither alarm above can fire.
resource "aws_cloudwatch_metric_alarm" "sweep_missing" {
  alarm_name          = "${local.name}-delivery-retry-not-running"
  alarm_description   = "No delivery-retry run reported in 15 minutes: check the schedule and the function's logs."
  namespace           = local.metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.oldest_pending.metric_transformation[0].name
  statistic           = "SampleCount"
  period              = 900
  evaluation_periods  = 1
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  for_each            = local.functions
  alarm_name          = "${local.name}-${each.key}-errors"
  alarm_description   = "${each.key} returned errors (transient store / network failures are retried; a steady rate is not transient). Read its log group."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.fn[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
}

# SPEC §10: a lost lock (the handler outlived its lock and renewal failed, or a settle came
# too late) is absorbed by idempotency, but a steady stream means handlers are too slow for
# the subscription's lock duration or the function is cut off mid-run.
resource "aws_cloudwatch_log_metric_filter" "servicebus_lost_locks" {
  name           = "${local.name}-servicebus-lost-locks"
  log_group_name = aws_cloudwatch_log_group.fn["servicebus-pull"].name
  pattern        = "{ $.fields.message = \"servicebus lock lost\" }"

  metric_transformation {
    name          = "ServiceBusLostLocks"
    namespace     = local.metric_namespace
    value         = "1"
    default_value = "0"
    unit          = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "servicebus_lost_locks" {
  alarm_name          = "${local.name}-servicebus-lost-locks"
  alarm_description   = "servicebus-pull lost Service Bus message locks: messages are redelivered (idempotent, nothing lost) but handling outlives the lock. Check the store latency and the subscription's lock duration (docs/deploy.md)."
  namespace           = local.metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.servicebus_lost_locks.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# SPEC §13: tomorrow's day-ahead prices still incomplete at 18:00 CET. The spot-prices
# function logs one error line per missing area with `alarm = "spotPricesMissing"`
# (shared/src/spot/fetch.rs); spot-priced sessions wait (awaitingSpotPrices) until they come.
resource "aws_cloudwatch_log_metric_filter" "spot_prices_missing" {
  name           = "${local.name}-spot-prices-missing"
  log_group_name = aws_cloudwatch_log_group.fn["spot-prices"].name
  pattern        = "{ $.fields.alarm = \"spotPricesMissing\" }"

  metric_transformation {
    name      = "SpotPricesMissing"
    namespace = local.metric_namespace
    value     = "1"
    unit      = "Count"
  }
}

resource "aws_cloudwatch_metric_alarm" "spot_prices_missing" {
  alarm_name          = "${local.name}-spot-prices-missing"
  alarm_description   = "Tomorrow's ENTSO-E day-ahead prices are still incomplete after 18:00 CET (token, ENTSO-E outage or late publication). `ucc spot show --area AREA --day DAY` shows what is stored; import by hand with `ucc spot import`."
  namespace           = local.metric_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.spot_prices_missing.metric_transformation[0].name
  statistic           = "Sum"
  period              = 600
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}
