"""lambda-emu: run AWS Lambda functions locally in real per-runtime containers."""

__version__ = "0.1.0"
