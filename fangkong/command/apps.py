from fangkong.lib import apps


class CommandConfig(apps.FangkongConfig):
    name = "fangkong.command"
    label = "command"
