"""``python app.py cert new --out DIR``: a key pair and a self-signed certificate for the app registration.

Writes ``courier.key`` (private key, 0600), ``courier.crt`` (upload this to Entra: App registrations > your app >
Certificates & secrets > Certificates > Upload) and ``courier.pem`` (key + certificate, 0600, for
``COURIER_APP_CERTIFICATE_PATH``). The private key is never printed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True, slots=True)
class CertificateFiles:
    key: Path
    certificate: Path
    pem: Path
    thumbprint_sha1: str
    not_after: dt.datetime


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    path.chmod(0o600)


def generate_certificate(out_dir: Path, *, common_name: str = "Courier", days: int = 730) -> CertificateFiles:
    out_dir.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    files = CertificateFiles(
        key=out_dir / "courier.key",
        certificate=out_dir / "courier.crt",
        pem=out_dir / "courier.pem",
        thumbprint_sha1=hashlib.sha1(certificate.public_bytes(serialization.Encoding.DER)).hexdigest().upper(),  # noqa: S324
        not_after=certificate.not_valid_after_utc,
    )
    _write_private(files.key, key_pem)
    _write_private(files.pem, key_pem + cert_pem)
    files.certificate.write_bytes(cert_pem)
    return files


def describe_upload(files: CertificateFiles) -> str:
    return "\n".join(
        [
            f"Certificate: {files.certificate}",
            f"Thumbprint (SHA-1): {files.thumbprint_sha1}",
            f"Valid until: {files.not_after:%Y-%m-%d}",
            f"Private key: {files.key} and {files.pem} (mode 0600; keep them secret, never commit them)",
            "",
            "Next steps:",
            "  1. Entra admin center > App registrations > Courier > Certificates & secrets > Certificates > Upload",
            f"     certificate: choose {files.certificate.name}. Check the thumbprint shown matches the one above.",
            f"  2. Set COURIER_APP_CERTIFICATE_PATH={files.pem} and remove MicrosoftAppPassword.",
            "  3. Run `python app.py doctor` to check Courier can get its tokens with the certificate.",
        ]
    )
