from django.apps import AppConfig


class PassesConfig(AppConfig):
    name = "fangkong.passes"
    label = "passes"
