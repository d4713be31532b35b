from services.common.runner import run_service
from services.profiles.app import create_app

run_service("profiles", create_app)
