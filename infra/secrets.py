"""The two secrets of the pipeline.

- The Deepgram API key. Only the submit function can read it. Either the stack creates a secret
  holding a placeholder, which you replace once with `aws secretsmanager put-secret-value`
  (CloudFormation never writes it again, because the template does not change), or it uses an
  existing secret named by `deepgramApiKeySecret`. Secrets Manager cannot rotate a Deepgram key
  itself: rotate it in Deepgram's console and put the new value.
- The callback signing secret: 64 random letters and digits (no punctuation, since the value is
  an HMAC key that also travels inside the callback URL's credentials). The submit function
  derives per-job callback credentials from it and the callback function checks them.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from functions.core.contract import DEEPGRAM_API_KEY_PLACEHOLDER
from infra.config import Settings
from infra.nag import acknowledge
from infra.retention import removal_policy

"""What the created Deepgram key secret holds until you put the real key."""

SIGNING_SECRET_LENGTH = 64


class Secrets(Construct):
    """The Deepgram API key secret (created or existing) and the callback signing secret."""

    def __init__(self, scope: Construct, construct_id: str, *, settings: Settings) -> None:
        super().__init__(scope, construct_id)
        retain_or_destroy = removal_policy(settings)
        reference = settings.deepgram_api_key_secret

        self.deepgram_api_key: secretsmanager.ISecret
        if not reference:
            created = secretsmanager.Secret(
                self,
                "DeepgramApiKey",
                description="Deepgram API key used by the submit function. Replace the placeholder with "
                "`aws secretsmanager put-secret-value`.",
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
            self.deepgram_api_key_id = created.secret_arn
            self.deepgram_api_key_resources = [created.secret_arn]
        elif settings.deepgram_secret_is_arn:
            self.deepgram_api_key = secretsmanager.Secret.from_secret_complete_arn(
                self, "DeepgramApiKey", reference
            )
            self.deepgram_api_key_id = reference
            self.deepgram_api_key_resources = [reference]
        else:
            self.deepgram_api_key = secretsmanager.Secret.from_secret_name_v2(
                self, "DeepgramApiKey", reference
            )
            # The name is enough for GetSecretValue. IAM needs the ARN, which ends in a random
            # 6-character suffix that only Secrets Manager knows: match it with "-??????".
            self.deepgram_api_key_id = reference
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
