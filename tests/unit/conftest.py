"""Settings for every unit test.

Property tests check what holds, not how fast: the machines they run on are shared and noisy,
so hypothesis's per-example deadline is off (speed lives in the benchmarks under bench/).
"""

from hypothesis import settings

settings.register_profile("suanli", deadline=None)
settings.load_profile("suanli")
