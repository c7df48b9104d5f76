"""The validating webhook for ComputeJobs, served by every operator replica, leader or not.

Validation needs no leadership: it reads the catalog and the data policy and asks the apiserver to
dry-run the job's pods, and neither changes anything. So each replica serves it from the moment it
starts, before it campaigns for the Lease, and reports Ready only once it does (`ready`); the
Service in front of the replicas then sends reviews to any of them. All replicas serve one
certificate (`--webhook-cert-dir`, the chart's Secret) and write the same
ValidatingWebhookConfiguration, so whichever wrote it last, the apiserver trusts every replica.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from aiohttp import web
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from suanli.api.models import GROUP, PLURAL, VERSION
from suanli.controller.review import DryRun, review_job
from suanli.kube.client import post_json
from suanli.scoring import BASELINE_POLICY, Catalog, DataPolicy

log = logging.getLogger(__name__)
CONFIGURATION = "suanli.dev"
WEBHOOK_NAME = "computejobs.suanli.dev"
PATH = "/validate-computejobs"
_REGISTER_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class WebhookTLS:
    certfile: Path
    keyfile: Path
    cafile: Path


def _response(uid: str, problems: list[str], warnings: list[str]) -> dict[str, Any]:
    answer: dict[str, Any] = {"uid": uid, "allowed": not problems}
    if problems:
        answer["status"] = {"code": 422, "reason": "Invalid", "message": "; ".join(problems)}
    if warnings:
        answer["warnings"] = [w[:1000] for w in warnings]
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": answer}


def configuration(url: str, ca_bundle: bytes, failure_policy: str) -> dict[str, Any]:
    """The ValidatingWebhookConfiguration every replica writes (the same one)."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": CONFIGURATION, "labels": {"app.kubernetes.io/name": "suanli"}},
        "webhooks": [
            {
                "name": WEBHOOK_NAME,
                "clientConfig": {"url": url, "caBundle": base64.b64encode(ca_bundle).decode()},
                "rules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": [VERSION],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": [PLURAL],
                        "scope": "Namespaced",
                    }
                ],
                "failurePolicy": failure_policy,
                # Dry runs of pods change nothing, so `kubectl apply --dry-run=server` works.
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 10,
            }
        ],
    }


class JobWebhook:
    """The HTTPS server answering AdmissionReviews, and its registration with the apiserver."""

    def __init__(
        self,
        *,
        addr: str,
        port: int,
        url: str,
        tls: WebhookTLS,
        admission: client.AdmissionregistrationV1Api,
        catalog: Callable[[], Catalog],
        dry_run: DryRun,
        failure_policy: str = "Ignore",
        data_policy: Callable[[], DataPolicy] = lambda: BASELINE_POLICY,
    ) -> None:
        self.addr, self.port, self.url, self.tls = addr, port, url, tls
        self.admission = admission
        self.catalog = catalog
        self.data_policy = data_policy
        self.dry_run = dry_run
        self.failure_policy = failure_policy
        self.serving = False
        self.registered = False
        self._runner: web.AppRunner | None = None
        self._registering: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        """Listening, and the apiserver has been told where: reviews can reach this replica."""
        return self.serving and self.registered

    async def _review(self, request: web.Request) -> web.Response:
        review = await request.json()
        ask = review.get("request") or {}
        body = ask.get("object") or {}
        namespace = str(ask.get("namespace") or (body.get("metadata") or {}).get("namespace"))
        problems, warnings = await review_job(
            body, namespace, self.catalog(), self.dry_run, self.data_policy()
        )
        if problems:
            log.info("refused ComputeJob %s/%s: %s", namespace, ask.get("name"), problems)
        return web.json_response(_response(str(ask.get("uid")), problems, warnings))

    async def start(self) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.tls.certfile), str(self.tls.keyfile))
        app = web.Application()
        app.router.add_post(PATH, self._review)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.addr, self.port, ssl_context=context).start()
        self.serving = True
        self._registering = asyncio.ensure_future(self._register())

    async def _register(self) -> None:
        body = configuration(self.url, self.tls.cafile.read_bytes(), self.failure_policy)
        while not self.registered:
            try:
                await asyncio.to_thread(self._write, body)
                self.registered = True
                log.info("webhook registered at %s", self.url)
            except ApiException as error:
                log.warning("registering the webhook failed (%s); retrying", error.reason)
                await asyncio.sleep(_REGISTER_RETRY_SECONDS)

    def _write(self, body: dict[str, Any]) -> None:
        try:
            self.admission.create_validating_webhook_configuration(
                cast(client.V1ValidatingWebhookConfiguration, body)
            )
        except ApiException as error:
            if error.status != 409:
                raise
            # A merge patch replaces the list of webhooks as a whole: the same for every replica.
            self.admission.patch_validating_webhook_configuration(
                CONFIGURATION,
                {"metadata": {"labels": body["metadata"]["labels"]}, "webhooks": body["webhooks"]},
                _content_type="application/merge-patch+json",
            )

    async def stop(self) -> None:
        # The configuration stays: the other replicas still serve it (failures are ignored).
        if self._registering is not None:
            self._registering.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        self.serving = False


def dry_run_with(api: client.ApiClient) -> DryRun:
    """Create the pod with dryRun=All: the apiserver validates and admits it, stores nothing."""

    async def dry_run(namespace: str, manifest: dict[str, Any]) -> None:
        path = f"/api/v1/namespaces/{namespace}/pods"
        await asyncio.to_thread(post_json, api, path, manifest, dry_run=True)

    return dry_run
