from fangkong.lib import apps


class UploadsConfig(apps.FangkongConfig):
    name = "fangkong.uploads"
    label = "uploads"
