"""Where a function's image and files come from: runtime id -> image (official or offline build),
architectures, the function's code and its layers."""
