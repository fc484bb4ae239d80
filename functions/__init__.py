"""Lambda function code. Each function's asset ships `functions/core` plus its own package."""
