from services.common.runner import run_service
from services.feedback.app import create_app

run_service("feedback", create_app)
