from fangkong.lib import apps


class SuppliesConfig(apps.FangkongConfig):
    name = "fangkong.supplies"
    label = "supplies"
