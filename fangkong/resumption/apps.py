from fangkong.lib import apps


class ResumptionConfig(apps.FangkongConfig):
    name = "fangkong.resumption"
    label = "resumption"
