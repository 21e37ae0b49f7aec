"""Archive zips into lake partitions: streaming trade extraction, small-table extraction, atomic
partition writing and the checks on the values and the stream.
"""

from __future__ import annotations
