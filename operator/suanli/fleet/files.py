"""Fleets read from a file or loaded data, validated, or the built-in demo fleet."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from suanli.fielderrors import describe
from suanli.fleet.inventory import Fleet, FleetError


def parse_fleet(data: object, source: str = "<fleet>") -> Fleet:
    """Validate already-loaded YAML data as a fleet; FleetError names every bad field."""
    if not isinstance(data, dict):
        raise FleetError(f"invalid fleet file {source}: expected a mapping with 'pools'")
    try:
        return Fleet.model_validate(data)
    except ValidationError as error:
        unknown = "unknown field; remove it or check its spelling against docs/fleet.md"
        raise FleetError(describe(error, f"fleet file {source}", data, unknown)) from None


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
