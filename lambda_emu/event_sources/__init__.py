"""Event source mappings: Lambda polling queues (SQS) and handing the function batches."""
