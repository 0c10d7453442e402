from fangkong.lib import apps


class DocumentsConfig(apps.FangkongConfig):
    name = "fangkong.documents"
    label = "documents"
