"""Cache keys: when two executions of a step are sure to produce the same outputs.

key = SHA-256 of canonical JSON of {step name, step code digest, parameters, input artifact
digests with the materializer (name, version) that wrote them, the content digests of the local
files and folders the step's arguments name (see ``file_inputs.py``), key format version}. Any
change to code, a parameter, an input's bytes, a read file's bytes or a storage format gives a
new key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mloop._utils.hashing import digest_json
from mloop.metadata.entities import Artifact

CACHE_KEY_FORMAT = 2  # bump when the recipe below changes, so old keys stop matching
# 2: file contents (issue 15); code digests include the user's helper functions


def cache_key(
    step_name: str,
    code_digest: str,
    params: Mapping[str, Any],
    inputs: Mapping[str, Artifact],
    files: Mapping[str, Artifact] | None = None,
) -> str:
    """The cache key of one step execution (hex SHA-256). ``files``: event name -> the
    ``File``/``Directory`` artifact of a local path an argument names."""
    return digest_json(
        {
            "format": CACHE_KEY_FORMAT,
            "step": step_name,
            "code": code_digest,
            "params": dict(params),
            "inputs": {
                name: [a.digest, a.materializer, a.properties.get("materializer_version")]
                for name, a in sorted(inputs.items())
            },
            "files": {name: [a.type, a.digest] for name, a in sorted((files or {}).items())},
        }
    )
