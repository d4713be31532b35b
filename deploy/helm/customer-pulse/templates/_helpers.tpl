{{- define "pulse.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 52 | trimSuffix "-" -}}
{{- end -}}

{{- define "pulse.labels" -}}
app.kubernetes.io/part-of: customer-pulse
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "pulse.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "pulse.databaseSecret" -}}
{{- default (printf "%s-databases" (include "pulse.fullname" .)) .Values.databases.existingSecret -}}
{{- end -}}

{{- define "pulse.keysSecret" -}}
{{- default (printf "%s-personal-data-keys" (include "pulse.fullname" .)) .Values.personalDataKeys.existingSecret -}}
{{- end -}}

{{- define "pulse.serviceKeysSecret" -}}
{{- default (printf "%s-service-keys" (include "pulse.fullname" .)) .Values.serviceKeys.existingSecret -}}
{{- end -}}

{{/* The settings every process of a service gets: its bus, its own database, the key database. */}}
{{- define "pulse.env" -}}
{{- $root := .root -}}
- name: PULSE_BUS
  value: kafka
- name: PULSE_KAFKA_BOOTSTRAP
  value: {{ $root.Values.kafka.bootstrap | quote }}
- name: PULSE_KAFKA_PARTITIONS
  value: {{ $root.Values.kafka.partitions | quote }}
- name: PULSE_KAFKA_REPLICATION_FACTOR
  value: {{ $root.Values.kafka.replicationFactor | quote }}
- name: PULSE_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "pulse.databaseSecret" $root }}
      key: {{ .service }}
- name: PULSE_AUTH_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "pulse.databaseSecret" $root }}
      key: auth
{{- range $name, $value := $root.Values.env }}
- name: {{ $name }}
  value: {{ $value | quote }}
{{- end }}
{{- end -}}
