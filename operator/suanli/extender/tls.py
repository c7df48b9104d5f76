"""The extender's TLS: serving (optionally mutual), and the client side towards the leader.

With a client CA the extender answers the verbs (filter, prioritize, bind) only to a client with a
certificate that CA signed: kube-scheduler presents one (its extender `tlsConfig.certFile` /
`keyFile`), and so do the other replicas when they pass a request on. A certificate the CA did
not sign fails the handshake; no certificate at all still reaches /healthz, /readyz and /metrics
(kubelet probes and Prometheus present none), and is refused on the verbs. The leader is reached
at its pod IP, which no certificate names, so its serving certificate is checked under the
Service's name instead.
"""

from __future__ import annotations

import ssl

from suanli.extender.settings import ExtenderSettings


def serving_tls_context(settings: ExtenderSettings) -> ssl.SSLContext | None:
    """HTTPS when the scheduler reaches the extender over the network (`enableHTTPS: true`)."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(settings.tls_cert_file), str(settings.tls_key_file))
    if settings.tls_client_ca_file is not None:
        context.load_verify_locations(cafile=str(settings.tls_client_ca_file))
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def peer_tls_context(settings: ExtenderSettings) -> ssl.SSLContext | None:
    """The client side towards the leader; None for plain HTTP."""
    if settings.advertise_url is None or not settings.advertise_url.startswith("https://"):
        return None
    ca = settings.peer_ca_file or settings.tls_client_ca_file
    context = ssl.create_default_context(
        ssl.Purpose.SERVER_AUTH, cafile=str(ca) if ca is not None else None
    )
    if settings.peer_cert_file is not None and settings.peer_key_file is not None:
        context.load_cert_chain(str(settings.peer_cert_file), str(settings.peer_key_file))
    return context
