from fangkong.lib import apps


class DashboardConfig(apps.FangkongConfig):
    name = "fangkong.dashboard"
    label = "dashboard"
