"""Data files shipped with Suanli: the demo fleet and the KWOK stages."""
