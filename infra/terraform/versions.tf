terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60, < 7.0"
    }
  }

  # State holds the UC client secrets read at apply time (see secrets.tf): keep it in an
  # encrypted, access-controlled backend, e.g.
  #   backend "s3" { bucket = "…" key = "ucc/production.tfstate" encrypt = true kms_key_id = "…" use_lockfile = true }
  # configured with `terraform init -backend-config=…`.
}

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Application = "utility-cloud-connector"
      Environment = var.environment
      ManagedBy   = "terraform"
    }
  }
}
