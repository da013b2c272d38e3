"""Python cryptography's PKCS7 envelope API as a peer for the envelope tests.

encrypt CERT_PEM ALG < content > der      (ALG: aes128 | aes256)
decrypt CERT_PEM KEY_PEM < der > content
Binary on encryption and no Text on decryption: the content passes byte for byte.
The API takes RSA recipients only (PKCS #1 v1.5, AES-CBC).
"""
import sys

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.serialization import pkcs7


def main() -> None:
    command, cert_file = sys.argv[1], sys.argv[2]
    with open(cert_file, "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    data = sys.stdin.buffer.read()
    if command == "encrypt":
        algorithm = algorithms.AES128 if sys.argv[3] == "aes128" else algorithms.AES256
        der = (
            pkcs7.PKCS7EnvelopeBuilder()
            .set_data(data)
            .add_recipient(cert)
            .set_content_encryption_algorithm(algorithm)
            .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
        )
        sys.stdout.buffer.write(der)
    else:
        with open(sys.argv[3], "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        sys.stdout.buffer.write(pkcs7.pkcs7_decrypt_der(data, cert, key, []))


main()
