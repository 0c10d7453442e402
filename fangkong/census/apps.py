from fangkong.lib import apps


class CensusConfig(apps.FangkongConfig):
    name = "fangkong.census"
    label = "census"
