from fangkong.lib import apps


class InflowConfig(apps.FangkongConfig):
    name = "fangkong.inflow"
    label = "inflow"
