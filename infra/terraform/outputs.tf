output "table_name" {
  description = "DynamoDB table: UCC_STORE=dynamodb://<this> for `ucc tenant put` against this environment."
  value       = aws_dynamodb_table.state.name
}

output "ucc_store" {
  description = "The UCC_STORE value to run the operator CLI against this environment."
  value       = "dynamodb://${aws_dynamodb_table.state.name}"
}

output "session_completed_queue_url" {
  description = "Give to eMabler Connect: one session-completed event per message."
  value       = aws_sqs_queue.inbound["session-completed"].url
}

output "contract_events_queue_url" {
  description = "Where the Service Bus forwarder puts UC contract events."
  value       = aws_sqs_queue.inbound["contract-events"].url
}

output "dlq_urls" {
  description = "Dead-letter queues (inspect and redrive)."
  value       = { for k, q in aws_sqs_queue.dlq : k => q.url }
}

output "admin_api_url" {
  description = "Admin API base URL (routes under /api/…, header x-api-key)."
  value       = var.enable_admin_api ? aws_lambda_function_url.admin[0].function_url : null
}

output "secret_arns" {
  description = "Secrets to fill with `aws secretsmanager put-secret-value` (keys: UCC_SECRET_<NAME>, UCC_ADMIN_KEY)."
  value       = { for k, s in aws_secretsmanager_secret.this : k => s.arn }
}

output "secret_refs" {
  description = "The reference of each secret, for a tenant's \"clientSecretRef\" (resolved at run time, SPEC §11)."
  value       = local.secret_refs
}

output "function_names" {
  description = "Lambda function names."
  value       = { for k, f in aws_lambda_function.fn : k => f.function_name }
}

output "log_groups" {
  description = "CloudWatch log groups of the functions."
  value       = { for k, g in aws_cloudwatch_log_group.fn : k => g.name }
}

output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies; subscribe your on-call."
  value       = aws_sns_topic.alarms.arn
}
