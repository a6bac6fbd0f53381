"""Returns the process environment as the function sees it."""

import os


def handler(event, context):
    return dict(os.environ)
