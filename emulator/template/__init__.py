"""Loading functions from SAM / CloudFormation templates (YAML or JSON), resolving parameters, Globals,
conditions and intrinsic functions locally; and SAM's parameter-override and env-vars inputs."""

from emulator.template.loader import Template, load_template
from emulator.template.overrides import load_env_vars_file, parse_parameter_overrides
from emulator.template.source import find_template

__all__ = ["Template", "find_template", "load_env_vars_file", "load_template", "parse_parameter_overrides"]
