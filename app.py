#!/usr/bin/env python3
"""CDK entry point (`npx cdk synth`, `make deploy`): settings from the context, one stack, cdk-nag.

Configuration: CDK context keys, documented in infra/config.py and the README
(`npx cdk deploy -c notifyEmail=me@example.com`).
"""

from __future__ import annotations

import aws_cdk as cdk

from infra.config import Settings
from infra.nag import enable_checks
from infra.stack import TranscriptionStack


def main() -> None:
    app = cdk.App()
    settings = Settings.from_context(app.node.try_get_context)
    TranscriptionStack(app, settings.stack_name, settings=settings)
    enable_checks(app)
    app.synth()


if __name__ == "__main__":
    main()
