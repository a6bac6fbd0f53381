"""Imports a package that is not in the deployment package."""

import no_such_dependency  # noqa: F401


def handler(event, context):
    return "unreachable"
