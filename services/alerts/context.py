"""What the alerts functions get besides a session: the common context plus the alerts' own."""

import ssl
from dataclasses import dataclass

from services.alerts.metrics import AlertsMetrics
from services.alerts.settings import AlertsSettings
from services.common.context import ServiceContext
from services.common.privacy import FieldCipher


@dataclass(frozen=True)
class AlertsContext(ServiceContext):
    settings: AlertsSettings
    cipher: FieldCipher  # the alerts' own key, for webhook secrets and robot URLs
    alert_metrics: AlertsMetrics
    tls: ssl.SSLContext  # made once: loading the CA bundle costs ~35 ms, too much for every delivery pass
