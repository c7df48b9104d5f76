"""The throw-away CA signs what the apiserver and the components expect."""

from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from suanli.devcluster.pki import CertificateAuthority


def test_server_certificate_names_loopback_and_service(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    pair = ca.issue(
        "apiserver", "kube-apiserver", server_ips=("127.0.0.1",), server_dns=("kubernetes",)
    )
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes" in names.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usage
    ca_cert = x509.load_pem_x509_certificate(ca.pair.cert.read_bytes())
    cert.verify_directly_issued_by(ca_cert)


def test_client_certificate_carries_group(tmp_path: Path) -> None:
    ca = CertificateAuthority(tmp_path)
    pair = ca.issue("admin", "suanli-admin", organization="system:masters")
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    assert (
        cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    )
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    assert pair.key.stat().st_mode & 0o077 == 0
