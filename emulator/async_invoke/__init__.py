"""Asynchronous (Event) invocations: a durable queue, Lambda's retry policy, dead letters and destinations."""
