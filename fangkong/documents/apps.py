from django.apps import AppConfig


class DocumentsConfig(AppConfig):
    name = "fangkong.documents"
    label = "documents"
