"""Lambda's function management API over HTTP (contract §8): the routes of CreateFunction, GetFunction,
ListFunctions, Update*, DeleteFunction, versions and aliases, each a thin shell around the control plane."""

from __future__ import annotations

import logging

from emulator.api.routes import RouteTable

LOG = logging.getLogger(__name__)

ROUTES: RouteTable = []
