import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangkong.settings")
application = get_wsgi_application()

# Sign-ins this process already refuses are answered before Django (bench W10).
from fangkong.accounts.gate import SignInGate  # noqa: E402  (needs the settings above)

application = SignInGate(application)
