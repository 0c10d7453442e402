from fangkong.lib import apps


class ResidentsConfig(apps.FangkongConfig):
    name = "fangkong.residents"
    label = "residents"
