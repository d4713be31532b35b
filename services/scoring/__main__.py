from services.common.runner import run_service
from services.scoring.app import create_app

run_service("scoring", create_app)
