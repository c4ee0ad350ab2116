"""``auroral export --verify``: re-check a bundle's hashes, models and parity reference without the run."""
from __future__ import annotations

import logging
from pathlib import Path

import onnx

from auroral.edge.bundle import load_bundle
from auroral.export.reference import verify_reference

log = logging.getLogger(__name__)


def verify_bundle(root: Path) -> dict[str, str]:
    """Raises BundleError / ParityError (both UserErrors) on any mismatch; returns a result per precision."""
    bundle = load_bundle(root)
    for precision in bundle.manifest.variants:
        onnx.checker.check_model(str(bundle.model_path(precision)), full_check=True)
    results = verify_reference(bundle)
    log.info("event=bundle_verified path=%s %s", root,
             " ".join(f"{k}={v.replace(' ', '_')}" for k, v in results.items()))
    return results
