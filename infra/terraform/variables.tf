variable "environment" {
  description = "Deployment environment: production or staging (names every resource)."
  type        = string

  validation {
    condition     = contains(["production", "staging"], var.environment)
    error_message = "environment must be \"production\" or \"staging\"."
  }
}

variable "aws_region" {
  description = "AWS region for every resource."
  type        = string
  default     = "eu-north-1"
}

variable "name_prefix" {
  description = "Prefix of every resource name; the environment is appended."
  type        = string
  default     = "ucc"
}

variable "artifacts_dir" {
  description = "Directory holding the Lambda zips built by `make package` (target/lambda)."
  type        = string
  default     = "../../target/lambda"
}

variable "lambda_architecture" {
  description = "Instruction set of the packaged bootstraps: `make package` builds for the build host (x86_64 here)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64."
  }
}

variable "enable_admin_api" {
  description = "Deploy the admin-api Lambda behind a Function URL (needs target/lambda/admin-api.zip)."
  type        = bool
  default     = true
}

variable "uc_client_secrets" {
  description = <<-EOT
    One Secrets Manager secret per UC client secret, keyed by a short upper-case name. The
    secret is <environment>/uc-client-secret/NAME; the tenant config refers to it as
    "clientSecretRef": "aws-sm:<environment>/uc-client-secret/NAME" (output secret_refs)
    and the functions read it at run time. The value is set out of band
    (aws secretsmanager put-secret-value), never in Terraform code.
  EOT
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.uc_client_secrets) : can(regex("^[A-Z][A-Z0-9_]{0,62}$", k))])
    error_message = "uc_client_secrets keys must be upper-case names like NORDLYS."
  }
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention of the functions' JSON logs."
  type        = number
  default     = 365
}

variable "http_timeout_ms" {
  description = "UCC_HTTP_TIMEOUT_MS: timeout of each UC / Entra request."
  type        = number
  default     = 10000
}

variable "rust_log" {
  description = "RUST_LOG filter of the functions."
  type        = string
  default     = "info"
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions per function; -1 leaves a function unreserved (needed on accounts with the default concurrency quota of 10)."
  type        = map(number)
  default = {
    contract-events   = 10
    servicebus-pull   = 1
    session-completed = 10
    delivery-retry    = 1
    reconciliation    = 1
    spot-prices       = 1
    admin-api         = 5
  }
}

variable "alarm_email" {
  description = "Optional e-mail address subscribed to the alarm topic (confirm the subscription mail)."
  type        = string
  default     = ""
}

variable "oldest_pending_alarm_minutes" {
  description = "Alarm when the oldest pending UC delivery is older than this."
  type        = number
  default     = 60
}

variable "table_deletion_protection" {
  description = "DynamoDB deletion protection (keep true in production)."
  type        = bool
  default     = true
}

variable "servicebus_endpoint" {
  description = "Service Bus namespace the servicebus-pull function receives contract events from (SPEC §10), https://NAMESPACE.servicebus.windows.net."
  type        = string
  default     = "https://uc-events.servicebus.windows.net"
  validation {
    condition     = can(regex("^https://[A-Za-z0-9.-]+/?$", var.servicebus_endpoint))
    error_message = "servicebus_endpoint must be https://NAMESPACE.servicebus.windows.net."
  }
}

variable "servicebus_entity" {
  description = "Topic subscription to receive from: TOPIC/subscriptions/SUBSCRIPTION."
  type        = string
  default     = "contract-events/subscriptions/ucc"
  validation {
    condition     = can(regex("^[A-Za-z0-9._~-]+/subscriptions/[A-Za-z0-9._~-]+$", var.servicebus_entity))
    error_message = "servicebus_entity must be TOPIC/subscriptions/SUBSCRIPTION."
  }
}

variable "servicebus_sas_key_name" {
  description = "SAS policy name (Listen right) on the topic/subscription. Empty to authenticate with Entra client credentials instead (servicebus_tenant_id, servicebus_client_id)."
  type        = string
  default     = "ucc-listen"
}

variable "servicebus_tenant_id" {
  description = "Entra tenant of the app registration with the Azure Service Bus Data Receiver role (used when servicebus_sas_key_name is empty)."
  type        = string
  default     = ""
}

variable "servicebus_client_id" {
  description = "Client id of that app registration (used when servicebus_sas_key_name is empty)."
  type        = string
  default     = ""
}
