"""The CDK app that deploys the pipeline (see app.py, and infra/stack.py for the big picture)."""
