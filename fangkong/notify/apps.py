from fangkong.lib import apps


class NotifyConfig(apps.FangkongConfig):
    name = "fangkong.notify"
    label = "notify"
