from fangkong.lib import apps


class ReportsConfig(apps.FangkongConfig):
    name = "fangkong.reports"
    label = "reports"
