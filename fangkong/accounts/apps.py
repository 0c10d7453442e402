from fangkong.lib import apps


class AccountsConfig(apps.FangkongConfig):
    name = "fangkong.accounts"
    label = "accounts"
