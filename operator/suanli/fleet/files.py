"""Fleets read from a file, or the built-in demo fleet."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml

from suanli.fleet.inventory import Fleet, FleetError, parse_fleet


def load_fleet(path: Path) -> Fleet:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FleetError(f"cannot read fleet file {path}: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise FleetError(f"fleet file {path} is not valid YAML: {error}") from None
    return parse_fleet(data, str(path))


def default_fleet() -> Fleet:
    """The demo fleet shipped with the package (`suanli/data/fleet.yaml`)."""
    text = resources.files("suanli.data").joinpath("fleet.yaml").read_text()
    return parse_fleet(yaml.safe_load(text), "suanli/data/fleet.yaml")
