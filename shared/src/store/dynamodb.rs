//! DynamoDB backend of the store port (being written).
