"""The chart's CRD templates, built from crds/ so the two never drift.

Helm installs a chart's crds/ folder once and never upgrades it, so the chart carries the CRD as
a template instead: the generated CRD verbatim, behind crds.enabled, with the release's labels
and, with crds.keep, `helm.sh/resource-policy: keep`. After regenerating crds/, refresh it with

    python -m tests.unit.chart.crd_template > charts/suanli/templates/crd-computejobs.yaml
    python -m tests.unit.chart.crd_template computequeues > charts/suanli/templates/crd-computequeues.yaml
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CRD_FILE = ROOT / "crds" / "suanli.dev_computejobs.yaml"
TEMPLATE_FILE = ROOT / "charts" / "suanli" / "templates" / "crd-computejobs.yaml"
PLURALS = ("computejobs", "computequeues")


def crd_file(plural: str) -> Path:
    return ROOT / "crds" / f"suanli.dev_{plural}.yaml"


def template_file(plural: str) -> Path:
    return ROOT / "charts" / "suanli" / "templates" / f"crd-{plural}.yaml"


def _header(plural: str) -> str:
    argument = "" if plural == "computejobs" else f" {plural}"
    return (
        "{{- if .Values.crds.enabled }}\n"
        f"# Copied from crds/suanli.dev_{plural}.yaml (generated from the API models); do not edit by\n"
        f"# hand. Refresh with: python -m tests.unit.chart.crd_template{argument} > "
        f"charts/suanli/templates/crd-{plural}.yaml\n"
    )


HEADER = _header("computejobs")
METADATA = """\
metadata:
  name: {name}
  labels:
    {{{{- include "suanli.labels" . | nindent 4 }}}}
  {{{{- if .Values.crds.keep }}}}
  annotations:
    # Uninstalling the release must not delete the CRD and with it every object of its kind.
    helm.sh/resource-policy: keep
  {{{{- end }}}}
"""
FOOTER = "{{- end }}\n"


def render(crd_text: str, plural: str = "computejobs") -> str:
    lines = crd_text.splitlines(keepends=True)
    body = [line for line in lines if not line.startswith("#")]
    if "{{" in crd_text:
        # Helm would read it as a template action; escape it before copying.
        raise ValueError("the CRD contains '{{', which Helm would evaluate")
    start = body.index("metadata:\n")
    name_line = body[start + 1]
    if not name_line.startswith("  name: ") or not body[start + 2].startswith("spec:"):
        raise ValueError("expected 'metadata:' with only a name, followed by 'spec:'")
    name = name_line.removeprefix("  name: ").strip()
    return (
        _header(plural)
        + "".join(body[:start])
        + METADATA.format(name=name)
        + "".join(body[start + 2 :])
        + FOOTER
    )


def main() -> None:
    plural = sys.argv[1] if len(sys.argv) > 1 else "computejobs"
    print(render(crd_file(plural).read_text(), plural), end="")


if __name__ == "__main__":
    main()
