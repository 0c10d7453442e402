from fangkong.lib import apps


class DisinfectionConfig(apps.FangkongConfig):
    name = "fangkong.disinfection"
    label = "disinfection"
