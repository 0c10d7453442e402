from fangkong.lib import apps


class DutyConfig(apps.FangkongConfig):
    name = "fangkong.duty"
    label = "duty"
