"""The extender's settings: one typed object, built from the command line and passed down."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class ExtenderSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8888, ge=0, le=65535)
    kubeconfig: Path | None = Field(
        default=None, description="kubeconfig file; in-cluster service account when unset"
    )
    catalog: Path | None = Field(default=None, description="catalog file; built-in when unset")
    latency: Path | None = Field(default=None, description="latency map; built-in when unset")
    data_policy: Path | None = Field(default=None, description="data policy; built-in when unset")
    scheduler_names: tuple[str, ...] = ("suanli-scheduler",)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    filter_top_k: int = Field(
        default=1,
        ge=0,
        description="nodes the filter verb keeps (best first); 0 keeps every feasible node. "
        "kube-scheduler picks at random among equal totals, so keeping the best one makes "
        "placement deterministic.",
    )
    runners_up: int = Field(default=3, ge=0, le=20)
    scheduler_http_timeout: float = Field(
        default=5.0,
        gt=0,
        description="kube-scheduler's httpTimeout for this extender, in seconds. A bind that "
        "waited most of it for a worker is answered with an error instead of being sent: the "
        "scheduler has given up on it by then, and a late bind makes its retry conflict.",
    )
    bind_workers: int = Field(default=16, ge=1, le=256, description="binds sent at once")
    tls_cert_file: Path | None = Field(default=None, description="serve HTTPS with this cert")
    tls_key_file: Path | None = None
    tls_client_ca_file: Path | None = Field(
        default=None,
        description="mutual TLS: refuse every client without a certificate signed by this CA "
        "(kube-scheduler's tlsConfig certFile/keyFile, and the other replicas)",
    )
    leader_elect: bool = Field(
        default=False,
        description="several replicas: the holder of the Lease decides every verb, the others "
        "pass requests on to it",
    )
    lease_namespace: str = "default"
    lease_name: str = "suanli-extender"
    advertise_url: str | None = Field(
        default=None,
        description="where the other replicas reach this one (https://POD_IP:PORT); its "
        "identity in the Lease",
    )
    peer_cert_file: Path | None = Field(
        default=None, description="client certificate presented to the leader (mutual TLS)"
    )
    peer_key_file: Path | None = None
    peer_ca_file: Path | None = Field(
        default=None, description="CA the leader's serving certificate is checked against"
    )
    peer_server_name: str | None = Field(
        default=None,
        description="name checked in the leader's certificate (the Service's DNS name: a pod "
        "IP is in no certificate)",
    )
    shutdown_grace_seconds: float = Field(
        default=5.0,
        ge=0,
        description="after handing the Lease over on SIGTERM, how long requests still arriving "
        "(endpoints update late) are passed on before the process exits",
    )

    @model_validator(mode="after")
    def _consistent(self) -> ExtenderSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("--tls-cert-file and --tls-key-file go together: give both or neither")
        if self.tls_client_ca_file is not None and self.tls_cert_file is None:
            raise ValueError(
                "--tls-client-ca-file needs --tls-cert-file and --tls-key-file: client "
                "certificates are checked over HTTPS only"
            )
        if (self.peer_cert_file is None) != (self.peer_key_file is None):
            raise ValueError(
                "--peer-cert-file and --peer-key-file go together: give both or neither"
            )
        if self.leader_elect and not self.advertise_url:
            raise ValueError(
                "--leader-elect needs --advertise-url (e.g. https://$(POD_IP):8888): the other "
                "replicas pass requests on to the leader there"
            )
        if self.leader_elect and self.tls_client_ca_file and self.peer_cert_file is None:
            raise ValueError(
                "--leader-elect with --tls-client-ca-file needs --peer-cert-file and "
                "--peer-key-file: the leader refuses replicas without a client certificate too"
            )
        return self
