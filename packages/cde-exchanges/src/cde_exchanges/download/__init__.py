"""The service that drives a download: request and report models, the plan of files, per-symbol locks,
cancel, progress, and the run that ties fetching and extraction together.
"""

from __future__ import annotations
