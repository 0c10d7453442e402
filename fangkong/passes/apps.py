from fangkong.lib import apps


class PassesConfig(apps.FangkongConfig):
    name = "fangkong.passes"
    label = "passes"
