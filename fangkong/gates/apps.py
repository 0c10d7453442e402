from fangkong.lib import apps


class GatesConfig(apps.FangkongConfig):
    name = "fangkong.gates"
    label = "gates"
