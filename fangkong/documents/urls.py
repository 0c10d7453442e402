from django.urls import path

from . import views

# Included at the root: the verify page has a short URL (/v/<code>/) to keep the QR code small.
urlpatterns = [
    path("documents/<int:pk>/", views.detail, name="document_detail"),
    path("documents/<int:pk>/pdf/", views.pdf, name="document_pdf"),
    path("documents/<int:pk>/revoke/", views.revoke, name="document_revoke"),
    path("v/<str:code>/", views.verify, name="document_verify"),
]
