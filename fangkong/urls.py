from django.urls import include, path
from django.views.i18n import set_language

from fangkong.accounts import views as accounts
from fangkong.audit import views as audit
from fangkong.core import views as core
from fangkong.observation import urls as observation_urls
from fangkong.inflow.urls import resident_urlpatterns as inflow_resident_urls
from fangkong.declarations.urls import resident_urlpatterns as declarations_resident_urls
from fangkong.passes.urls import resident_urlpatterns as passes_resident_urls
from fangkong.places.access import public
from fangkong.residents import views as residents

from .api import api


urlpatterns = [
    path("", accounts.home, name="home"),
    path("healthz", core.healthz, name="healthz"),
    path("api/", api.urls),  # early: devices' calls (gate check-ins, temperature reports) resolve first
    path("login/", accounts.login_view, name="login"),
    path("logout/", accounts.logout_view, name="logout"),
    path("i18n/setlang/", public("language switch")(set_language), name="set_language"),
    path("residents/", residents.person_list, name="person_list"),
    path("residents/new/", residents.person_create, name="person_create"),
    path("residents/export/", residents.person_export, name="person_export"),
    path("residents/import/", residents.import_upload, name="import_upload"),
    path("residents/import/<int:pk>/", residents.import_job, name="import_job"),
    path("residents/import/<int:pk>/start/", residents.import_start, name="import_start"),
    path("residents/import/<int:pk>/resume/", residents.import_resume, name="import_resume"),
    path("residents/import/<int:pk>/progress/", residents.import_progress, name="import_progress"),
    path("residents/import/<int:pk>/errors.csv", residents.import_errors, name="import_errors"),
    path("residents/<int:pk>/", residents.person_detail, name="person_detail"),
    path("residents/<int:pk>/edit/", residents.person_edit, name="person_edit"),
    path("residents/<int:pk>/unmask/", residents.person_unmask, name="person_unmask"),
    path("households/new/", residents.household_create, name="household_create"),
    path("households/<int:pk>/", residents.household_detail, name="household_detail"),
    path("households/<int:pk>/edit/", residents.household_edit, name="household_edit"),
    path("audit/", audit.event_list, name="audit_list"),
    path("inflow/", include("fangkong.inflow.urls")),
    path("observation/", include("fangkong.observation.urls")),
    path("passes/", include("fangkong.passes.urls")),
    path("census/", include("fangkong.census.urls")),
    path("", include("fangkong.documents.urls")),
    path("", include("fangkong.notify.urls")),
    path("r/", include(observation_urls.resident_urlpatterns + inflow_resident_urls + passes_resident_urls
                     + declarations_resident_urls)),  # personal links
    path("gates/", include("fangkong.gates.urls")),
    path("", include("fangkong.declarations.urls")),
    path("dashboard/", include("fangkong.dashboard.urls")),
    path("reports/", include("fangkong.reports.urls")),
]
