"""A fresh SSH key pair for an MPI job, in the formats OpenSSH reads.

Kept apart from the pure MPI manifests: this is the one place randomness enters. Ed25519, because
its keys are small, fast to make and accepted by every OpenSSH of the last ten years.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True)
class SshKeys:
    private: str  # `-----BEGIN OPENSSH PRIVATE KEY-----` ..., unencrypted
    public: str  # `ssh-ed25519 AAAA... <comment>`, one line: also the authorized_keys line


def generate(comment: str) -> SshKeys:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.OpenSSH,
        encryption_algorithm=serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(
            encoding=serialization.Encoding.OpenSSH, format=serialization.PublicFormat.OpenSSH
        )
        .decode()
    )
    return SshKeys(private=private, public=f"{public} {comment}\n")
