from services.common.runner import run_service
from services.alerts.app import create_app

run_service("alerts", create_app)
