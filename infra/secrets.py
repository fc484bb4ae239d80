"""The two secrets of the pipeline.

- The Deepgram API key. Only the submit function can read it. Either the stack creates a secret
  holding a placeholder (`contract.DEEPGRAM_API_KEY_PLACEHOLDER`), which you replace once with
  `aws secretsmanager put-secret-value` (CloudFormation never writes it again, because the
  template does not change), or it uses an existing secret named by `deepgramApiKeySecret`.
  Secrets Manager cannot rotate a Deepgram key itself: create the new key in Deepgram's console
  and put it into the secret. A new key has a new `api_key_id`, which the callback's `dg-token`
  check compares against: with `dgTokenMode` if-present or required, first deploy with
  `-c deepgramApiKeyId=<old id>,<new id>`, then put the new key, and once no job submitted with
  the old key is pending, deploy again with only the new id (and revoke the old key).
- The callback signing secret: 64 random letters and digits (no punctuation, so the value is
  safe to handle in shells and environment files). It never leaves AWS: the submit function
  derives a per-job HMAC from it, which travels inside that job's callback URL credentials, and
  the callback function recomputes the HMAC to check them.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from functions.core.contract import DEEPGRAM_API_KEY_PLACEHOLDER
from infra.config import Settings
from infra.nag import acknowledge
from infra.retention import removal_policy

SIGNING_SECRET_LENGTH = 64
"""Length of the generated callback signing secret (letters and digits)."""


class Secrets(Construct):
    """The Deepgram API key secret (created or existing) and the callback signing secret."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        retain_or_destroy = removal_policy(settings)
        reference = settings.deepgram_api_key_secret

        self.deepgram_api_key: secretsmanager.ISecret
        self.deepgram_api_key_secret_ref: str
        """The Deepgram key secret's ARN, or its name if given by name: what the submit function
        passes to GetSecretValue. Not Deepgram's `api_key_id` (see `Settings.deepgram_api_key_id`)."""
        self.deepgram_api_key_resources: list[str]
        """The IAM resources that cover the Deepgram key secret."""
        if not reference:
            created = secretsmanager.Secret(
                self,
                "DeepgramApiKey",
                description="Deepgram API key used by the submit function. Replace the placeholder with "
                "`aws secretsmanager put-secret-value`.",
                # Not a secret: a marker the submit function recognises until you put the real key.
                secret_string_value=cdk.SecretValue.unsafe_plain_text(DEEPGRAM_API_KEY_PLACEHOLDER),
                removal_policy=retain_or_destroy,
            )
            acknowledge(
                created,
                "AwsSolutions-SMG4",
                "Secrets Manager cannot rotate a Deepgram API key: keys are created and revoked in "
                "Deepgram's console (or its Management API) and then put into this secret.",
            )
            self.deepgram_api_key = created
            self.deepgram_api_key_secret_ref = created.secret_arn
            self.deepgram_api_key_resources = [created.secret_arn]
        elif settings.deepgram_secret_is_arn:
            self.deepgram_api_key = secretsmanager.Secret.from_secret_complete_arn(
                self, "DeepgramApiKey", reference
            )
            self.deepgram_api_key_secret_ref = reference
            self.deepgram_api_key_resources = [reference]
        else:
            self.deepgram_api_key = secretsmanager.Secret.from_secret_name_v2(
                self, "DeepgramApiKey", reference
            )
            # The name is enough for GetSecretValue. IAM needs the ARN, which ends in a random
            # 6-character suffix that only Secrets Manager knows: match it with "-??????".
            self.deepgram_api_key_secret_ref = reference
            self.deepgram_api_key_resources = [f"{self.deepgram_api_key.secret_arn}-??????"]

        self.callback_signing = secretsmanager.Secret(
            self,
            "CallbackSigningSecret",
            description="HMAC key from which the submit function derives each job's callback credentials.",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=SIGNING_SECRET_LENGTH, exclude_punctuation=True, include_space=False
            ),
            removal_policy=retain_or_destroy,
        )
        acknowledge(
            self.callback_signing,
            "AwsSolutions-SMG4",
            "Rotating the signing key invalidates the credentials of every callback still pending "
            "at Deepgram (up to its 10-minute processing cap plus 5 minutes of retries), so it is "
            "rotated deliberately, while no job is pending, with `aws secretsmanager "
            "put-secret-value`, not on a schedule.",
        )
