from django.urls import include, path
from django.views.i18n import set_language

from fangkong.accounts import views as accounts
from fangkong.core import views as core
from fangkong.observation import urls as observation_urls
from fangkong.inflow.urls import resident_urlpatterns as inflow_resident_urls
from fangkong.declarations.urls import resident_urlpatterns as declarations_resident_urls
from fangkong.passes.urls import resident_urlpatterns as passes_resident_urls
from fangkong.lib.urls import by_first_segment
from fangkong.places.access import public

from .api import api


urlpatterns = [
    path("", accounts.home, name="home"),
    path("healthz", core.healthz, name="healthz"),  # liveness
    path("readyz", core.readyz, name="readyz"),  # readiness
    by_first_segment("api/", api.urls),  # early: devices' calls (gate check-ins, temperature reports) resolve first
    path("login/", accounts.login_view, name="login"),
    path("logout/", accounts.logout_view, name="logout"),
    path("i18n/setlang/", public("language switch")(set_language), name="set_language"),
    path("", include("fangkong.residents.urls")),
    path("audit/", core.audit_events, name="audit_list"),
    path("inflow/", include("fangkong.inflow.urls")),
    path("observation/", include("fangkong.observation.urls")),
    path("passes/", include("fangkong.passes.urls")),
    path("census/", include("fangkong.census.urls")),
    path("supplies/", include("fangkong.supplies.urls")),
    path("disinfection/", include("fangkong.disinfection.urls")),
    path("", include("fangkong.documents.urls")),
    path("", include("fangkong.notify.urls")),
    path("r/", include(observation_urls.resident_urlpatterns + inflow_resident_urls + passes_resident_urls
                     + declarations_resident_urls)),  # personal links
    path("gates/", include("fangkong.gates.urls")),
    path("clinic/", include("fangkong.clinic.urls")),
    path("", include("fangkong.declarations.urls")),
    path("dashboard/", include("fangkong.dashboard.urls")),
    path("reports/", include("fangkong.reports.urls")),
    path("uploads/", include("fangkong.uploads.urls")),
    path("duty/", include("fangkong.duty.urls")),
    path("resumption/", include("fangkong.resumption.urls")),
    path("command/", include("fangkong.command.urls")),
    path("", include("fangkong.services.urls")),
    path("testing/", include("fangkong.testing.urls")),
    path("", include("fangkong.accounts.urls")),
]
