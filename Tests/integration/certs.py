"""Test certificates: a mesh made with the real `sidecar certs` commands, plus odd certificates
(expired, from another CA) made with Python's `cryptography` for negative tests."""

import datetime
import os
import subprocess
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import SIDECAR_BIN


class Mesh:
    """A CA directory with workloads issued by `sidecar certs`."""

    def __init__(self, trust_domain="mesh.local", names=("orders", "payments")):
        self.dir = tempfile.mkdtemp(prefix="sidecar-certs-")
        self.trust_domain = trust_domain
        subprocess.run([SIDECAR_BIN, "certs", "init", "--dir", self.dir, "--trust-domain", trust_domain], check=True, capture_output=True)
        for name in names:
            self.issue(name)

    def issue(self, name, spiffe_id=None, days=None):
        args = [SIDECAR_BIN, "certs", "issue", "--dir", self.dir, "--name", name]
        if spiffe_id:
            args += ["--spiffe-id", spiffe_id]
        if days:
            args += ["--days", str(days)]
        subprocess.run(args, check=True, capture_output=True)

    def spiffe(self, name):
        return f"spiffe://{self.trust_domain}/ns/default/sa/{name}"

    def cert(self, name):
        return os.path.join(self.dir, f"{name}.pem")

    def key(self, name):
        return os.path.join(self.dir, f"{name}-key.pem")

    @property
    def ca(self):
        return os.path.join(self.dir, "ca.pem")

    def identity(self, name):
        return {"certificate": self.cert(name), "privateKey": self.key(name), "trustBundle": self.ca, "reloadInterval": "200ms"}

    def make_leaf(self, name, spiffe_id=None, not_before=None, not_after=None):
        """Signs a leaf with this mesh's CA key using `cryptography` (for validity windows the CLI does not offer)."""
        with open(os.path.join(self.dir, "ca-key.pem"), "rb") as f:
            ca_key = serialization.load_pem_private_key(f.read(), password=None)
        with open(self.ca, "rb") as f:
            ca_cert = x509.load_pem_x509_certificate(f.read())
        return _write_leaf(self.dir, name, ca_key, ca_cert, spiffe_id or self.spiffe(name), not_before, not_after)


def _write_leaf(directory, name, ca_key, ca_cert, spiffe_id, not_before=None, not_after=None):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - datetime.timedelta(minutes=5))
        .not_valid_after(not_after or now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(spiffe_id), x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
    )
    cert = builder.sign(ca_key, hashes.SHA256())
    cert_path = os.path.join(directory, f"{name}.pem")
    key_path = os.path.join(directory, f"{name}-key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path, cert.serial_number
