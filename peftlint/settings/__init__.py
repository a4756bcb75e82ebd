"""What the user configured: `[tool.peftlint]` settings, profiles and inline directives."""
