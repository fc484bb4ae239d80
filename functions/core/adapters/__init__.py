"""Thin boto3 adapters behind the plain interfaces the logic modules expect."""
