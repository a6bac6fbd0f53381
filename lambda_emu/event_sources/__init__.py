"""Event source mappings: Lambda polling queues (SQS) and streams (Kinesis, DynamoDB Streams) and handing
the function batches."""
