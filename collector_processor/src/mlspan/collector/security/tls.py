"""TLS settings turned into ``ssl.SSLContext`` objects and gRPC credentials.

Certificates and keys are read once, when a server or client is built; replacing them
takes a restart. Servers require TLS 1.2 or newer (``min_version``); with a
``client_ca_file`` they require and verify a client certificate (mutual TLS).
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import grpc

from mlspan.collector.security.config import TlsClientConfig, TlsServerConfig


def _version(name: str) -> ssl.TLSVersion:
    return ssl.TLSVersion.TLSv1_3 if name == "1.3" else ssl.TLSVersion.TLSv1_2


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise OSError(f"tls.{what}: cannot read {path}: {exc.strerror or exc}") from exc


def server_ssl_context(config: TlsServerConfig) -> ssl.SSLContext:
    """A server-side context: the certificate, and client verification for mTLS."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _version(config.min_version)
    try:
        context.load_cert_chain(config.cert_file, config.key_file)
        if config.client_ca_file:
            context.load_verify_locations(cafile=config.client_ca_file)
            context.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as exc:
        raise OSError(f"tls: cannot load the certificate, key or client CA: {exc}") from exc
    return context


def grpc_server_credentials(config: TlsServerConfig) -> grpc.ServerCredentials:
    """gRPC server credentials: the certificate, and client verification for mTLS."""
    key = _read(config.key_file, "key_file")
    cert = _read(config.cert_file, "cert_file")
    client_ca = _read(config.client_ca_file, "client_ca_file") if config.client_ca_file else None
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def client_ssl_context(config: TlsClientConfig | None) -> ssl.SSLContext:
    """A client context verifying the server (system CAs or ``ca_file``), with a client
    certificate when configured."""
    config = config or TlsClientConfig()
    try:
        context = ssl.create_default_context(cafile=config.ca_file or None)
        context.minimum_version = _version(config.min_version)
        if config.cert_file:
            context.load_cert_chain(config.cert_file, config.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise OSError(f"tls: cannot load the CA, certificate or key: {exc}") from exc
    return context


def grpc_channel_credentials(config: TlsClientConfig | None) -> grpc.ChannelCredentials:
    """gRPC channel credentials mirroring ``client_ssl_context``."""
    config = config or TlsClientConfig()
    root = _read(config.ca_file, "ca_file") if config.ca_file else None
    key = _read(config.key_file, "key_file") if config.key_file else None
    cert = _read(config.cert_file, "cert_file") if config.cert_file else None
    return grpc.ssl_channel_credentials(
        root_certificates=root, private_key=key, certificate_chain=cert
    )


def add_grpc_port(server: grpc.Server, endpoint: str, tls: TlsServerConfig | None) -> int:
    """Bind ``endpoint`` on ``server``, with TLS when ``tls`` is set; the port bound
    (0 when gRPC could not bind)."""
    if tls is None:
        return int(server.add_insecure_port(endpoint))
    return int(server.add_secure_port(endpoint, grpc_server_credentials(tls)))


def wrap_listening_socket(sock: socket.socket, tls: TlsServerConfig | None) -> socket.socket:
    """``sock`` unchanged without ``tls``, else wrapped so accepted connections speak TLS.

    The handshake is not done in ``accept`` (the thread accepting for everyone) but on a
    connection's first read, in the thread serving it, under its read timeout: a client
    that never finishes the handshake holds only its own thread."""
    if tls is None:
        return sock
    context = server_ssl_context(tls)
    return context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
