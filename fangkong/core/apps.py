from fangkong.lib import apps


class CoreConfig(apps.FangkongConfig):
    name = "fangkong.core"
    label = "core"
