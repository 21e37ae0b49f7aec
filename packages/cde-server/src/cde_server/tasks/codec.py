"""TaskInfo ⇄ flat string fields, shared by the stores so both keep identical state."""

from __future__ import annotations

import json
from typing import Any

from cde_core.tasks import TaskInfo

#: fields kept as plain strings (the Redis scripts compare them); the rest are JSON-encoded
RAW_FIELDS = frozenset({"status", "owner", "lease"})
#: bookkeeping of the stores, not part of the public TaskInfo
PRIVATE_FIELDS = frozenset({"owner", "lease"})


def encode(info: TaskInfo, **extra: str) -> dict[str, str]:
    fields = {k: (v if k in RAW_FIELDS else json.dumps(v)) for k, v in info.model_dump(mode="json").items()}
    fields.update(extra)
    return fields


def encode_changes(changes: dict[str, Any]) -> dict[str, str]:
    return {k: (str(v) if k in RAW_FIELDS else json.dumps(v)) for k, v in changes.items()}


def decode(fields: dict[str, str]) -> TaskInfo:
    data = {k: (v if k in RAW_FIELDS else json.loads(v)) for k, v in fields.items() if k not in PRIVATE_FIELDS}
    return TaskInfo.model_validate(data)
