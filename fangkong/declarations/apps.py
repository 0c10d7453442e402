from fangkong.lib import apps


class DeclarationsConfig(apps.FangkongConfig):
    name = "fangkong.declarations"
    label = "declarations"
