from fangkong.lib import apps


class ObservationConfig(apps.FangkongConfig):
    name = "fangkong.observation"
    label = "observation"
