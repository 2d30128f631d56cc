# Inbound queues. session-completed: eMabler publishes one session-completed event per message.
# contract-events: UC events arrive on Azure Service Bus (SPEC §3) and reach AWS through the
# servicebus-pull function (SPEC §10), not this queue; the queue takes contract-event bodies
# posted by hand (replays). Each queue has its own DLQ; the Lambda
# answers batchItemFailures so only failed messages are redelivered.

locals {
  inbound = {
    contract-events = {
      # > 6 × the function timeout (AWS guidance for Lambda event sources)
      visibility_timeout = 6 * local.all_functions["contract-events"].timeout
      max_receive_count  = 10 # same as the Service Bus maxDeliveryCount
    }
    session-completed = {
      visibility_timeout = 6 * local.all_functions["session-completed"].timeout
      max_receive_count  = 10
    }
  }
}

resource "aws_sqs_queue" "dlq" {
  for_each                  = local.inbound
  name                      = "${local.name}-${each.key}-dlq"
  message_retention_seconds = 1209600 # 14 days, the maximum: time to investigate and redrive
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "inbound" {
  for_each                   = local.inbound
  name                       = "${local.name}-${each.key}"
  visibility_timeout_seconds = each.value.visibility_timeout
  message_retention_seconds  = 1209600
  # SSE-SQS rather than the CMK: producers live in other accounts / Azure and would each need
  # kms:GenerateDataKey on our key.
  sqs_managed_sse_enabled = true
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  for_each  = local.inbound
  queue_url = aws_sqs_queue.dlq[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.inbound[each.key].arn]
  })
}

resource "aws_lambda_event_source_mapping" "inbound" {
  for_each                           = local.inbound
  event_source_arn                   = aws_sqs_queue.inbound[each.key].arn
  function_name                      = aws_lambda_function.fn[each.key].arn
  batch_size                         = 10
  maximum_batching_window_in_seconds = 1
  function_response_types            = ["ReportBatchItemFailures"]

  scaling_config {
    # at most the function's reserved concurrency (else throttled batches bounce), at least 2
    maximum_concurrency = lookup(var.reserved_concurrency, each.key, -1) >= 2 ? lookup(var.reserved_concurrency, each.key, -1) : 10
  }
}
