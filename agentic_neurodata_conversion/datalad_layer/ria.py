"""Publishing datasets to a RIA store (FAIRly big's layout: one store, datasets by id).

A store is addressed as ``ria+file:///path`` (or ``ria+ssh://host/path``); each dataset
lands at ``<store>/<id[:3]>/<id[3:]>`` with its annexed content, so a clone of the
superdataset from the store finds every subdataset there by its id.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from .dataset import API_OPTIONS, check_results, dl, open_dataset

SIBLING = "ria-store"
SCHEMES = ("ria+file://", "ria+ssh://", "ria+http://", "ria+https://")


def check_url(url: str) -> str:
    if not url.startswith(SCHEMES):
        raise UsageError(
            f"{url!r} is not a RIA store URL",
            "give one like ria+file:///data/store (or ria+ssh://host/path)",
        )
    return url


def publish(path: Path, url: str, name: str = SIBLING) -> None:
    """Give the dataset at PATH a sibling in the store at URL (created if new) and push
    its history and annexed content there."""
    ds = open_dataset(path)
    check_results(
        dl().create_sibling_ria(
            url,
            name,
            dataset=ds,
            new_store_ok=True,
            existing="skip",
            **API_OPTIONS,
        ),
        "create-sibling-ria",
    )
    check_results(
        dl().push(dataset=ds, to=name, **API_OPTIONS),
        "push",
    )
