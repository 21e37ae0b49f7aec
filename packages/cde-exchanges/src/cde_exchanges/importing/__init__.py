"""Your own files into the lake (`cde import trades|bars`): sources, column mapping, timestamps,
the tick rule, and staged partitions written through the download's validation and writer."""
