from fangkong.lib import apps


class ServicesConfig(apps.FangkongConfig):
    name = "fangkong.services"
    label = "services"
