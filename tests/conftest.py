"""Hypothesis profiles: `ci` is sized for 2 cores; `dev` runs more examples locally.

Pick one with HYPOTHESIS_PROFILE; CI=true selects `ci`.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=100,
    deadline=None,
    # derandomized too: the README's test command (no CI variable) must give the same verdict on
    # every run, and the binding-case counters must not depend on a lucky draw
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
