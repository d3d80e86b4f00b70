# Copyright: streamlit_ops maintainers
# Apache License 2.0 (see LICENSE)
"""Read image IDs out of a `docker save` tarball without a Docker engine.

The image ID Docker reports is the sha256 of the image's config blob, so the
controller can tell whether a child already holds exactly the archived image.
"""

from __future__ import annotations

import hashlib
import json
import tarfile

DEFAULT_REGISTRY_PREFIXES = ("docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/")


class ArchiveError(Exception):
    """The file is not a readable `docker save` archive."""


def normalize_reference(reference: str) -> str:
    """Spell an image reference the way `docker save` writes RepoTags."""
    ref = reference.strip()
    for prefix in DEFAULT_REGISTRY_PREFIXES:
        if ref.startswith(prefix):
            ref = ref[len(prefix):]
            break
    last = ref.rsplit("/", 1)[-1]
    if "@" not in ref and ":" not in last:
        ref += ":latest"
    return ref


def archive_images(path: str) -> dict[str, str]:
    """Map every tag in the archive to its image ID (``sha256:<hex>``)."""
    try:
        with tarfile.open(path) as tar:
            manifest_member = tar.getmember("manifest.json")
            manifest = json.load(tar.extractfile(manifest_member))
            images = {}
            for entry in manifest:
                config = tar.extractfile(tar.getmember(entry["Config"]))
                image_id = "sha256:" + hashlib.sha256(config.read()).hexdigest()
                for tag in entry.get("RepoTags") or []:
                    images[normalize_reference(tag)] = image_id
            return images
    except (OSError, KeyError, ValueError, TypeError, tarfile.TarError) as exc:
        raise ArchiveError(f"{path} is not a docker save archive ({exc})") from exc


def archive_image_id(path: str, reference: str) -> str:
    """The ID of ``reference`` in the archive; ArchiveError if it is not there."""
    images = archive_images(path)
    wanted = normalize_reference(reference)
    if wanted not in images:
        tags = ", ".join(sorted(images)) or "no tags"
        raise ArchiveError(f"{path} does not hold {wanted} (it holds {tags})")
    return images[wanted]
