from fangkong.lib import apps


class TestingConfig(apps.FangkongConfig):
    name = "fangkong.testing"
    label = "testing"
