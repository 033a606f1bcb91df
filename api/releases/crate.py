"""ro-crate-metadata.json: the release described as an RO-Crate 1.1 (https://w3id.org/ro/crate/1.1),
so repositories and workflow tools that read RO-Crates can catalogue it: the root Dataset with
its name, date and parts, and each file with its format, size and SHA-256."""

from __future__ import annotations

from typing import Any

from schema.releases import CRATE_METADATA, MANIFEST, Manifest

RO_CRATE_CONTEXT = "https://w3id.org/ro/crate/1.1/context"
RO_CRATE_SPEC = "https://w3id.org/ro/crate/1.1"


def crate_metadata(manifest: Manifest, manifest_bytes: int) -> dict[str, Any]:
    files: list[dict[str, Any]] = [
        {
            "@id": f.name,
            "@type": "File",
            "name": f.name,
            "encodingFormat": f.media_type,
            "contentSize": str(f.bytes),
            "sha256": f.sha256,
        }
        for f in manifest.files
    ]
    files.append(
        {
            "@id": MANIFEST,
            "@type": "File",
            "name": "claimsdb release manifest",
            "encodingFormat": "application/json",
            "contentSize": str(manifest_bytes),
        }
    )
    root = {
        "@id": "./",
        "@type": "Dataset",
        "name": f"claimsdb release {manifest.name}",
        "description": (
            f"{manifest.claim_count} curated neuroimmunology claims ({', '.join(manifest.statuses)}) with "
            "their evidence quotes, sources and vocabulary, exported from claimsdb."
        ),
        "datePublished": manifest.created_at.isoformat(),
        "version": manifest.name,
        "hasPart": [{"@id": f["@id"]} for f in files],
    }
    descriptor = {
        "@id": CRATE_METADATA,
        "@type": "CreativeWork",
        "conformsTo": {"@id": RO_CRATE_SPEC},
        "about": {"@id": "./"},
    }
    return {"@context": RO_CRATE_CONTEXT, "@graph": [descriptor, root, *files]}
