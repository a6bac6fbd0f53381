"""The AWS-compatible Lambda API: its operations (service) and their HTTP form (http)."""
