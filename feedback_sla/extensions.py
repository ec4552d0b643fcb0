"""Flask extensions, created unbound and bound to the app in ``create_app`` (the database is in
``database``)."""

from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
mail = Mail()
bootstrap = Bootstrap5()
# Counts live in RATELIMIT_STORAGE_URI: memory:// per process by default, Redis in production.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
# Pages in the reader's language: bound with its locale selector by ``web.i18n``.
babel = Babel()
