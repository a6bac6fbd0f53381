"""A local API Gateway: the template's REST and HTTP APIs served over HTTP, each request turned into the
event API Gateway sends its Lambda proxy integration, and the function's answer mapped back as it maps it."""
