from fangkong.lib import apps


class ClinicConfig(apps.FangkongConfig):
    name = "fangkong.clinic"
    label = "clinic"
