"""Numba kernels (``nogil``, cached). Import these modules only inside ``compute``: compiling or
loading them costs time that ``cde --help`` must not pay."""
