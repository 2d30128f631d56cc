# The single table of shared/src/store/dynamodb.rs (`create_table_if_missing` is the
# reference layout): pk/sk strings, the sparse `due` index on ipk/isk projecting everything,
# TTL on `ttl` (log entries, processed ids), on-demand billing.
resource "aws_dynamodb_table" "state" {
  name                        = "${local.name}-state"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "pk"
  range_key                   = "sk"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "sk"
    type = "S"
  }
  attribute {
    name = "ipk"
    type = "S"
  }
  attribute {
    name = "isk"
    type = "S"
  }

  global_secondary_index {
    name            = "due"
    hash_key        = "ipk"
    range_key       = "isk"
    projection_type = "ALL"
  }

  ttl {
    attribute_name = "ttl"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = aws_kms_key.main.arn
  }
}
