"""The product's settings, with the benchmark's URLconf (see bench/floor/__init__.py)."""
from fangkong.settings import *  # noqa: F403

ROOT_URLCONF = "bench.floor.urls"
