{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "pullpass.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of every object. The webhook configuration, the Service, the Lease and the TLS Secret
are all derived from it, and pullpass is told these names by flag, so they always agree.
*/}}
{{- define "pullpass.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "pullpass.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "pullpass.labels" -}}
helm.sh/chart: {{ include "pullpass.chart" . }}
{{ include "pullpass.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "pullpass.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pullpass.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pullpass.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "pullpass.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the serving certificate, in both certificate modes. */}}
{{- define "pullpass.tlsSecret" -}}
{{- printf "%s-tls" (include "pullpass.fullname" .) }}
{{- end }}

{{- define "pullpass.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "pullpass.selfManaged" -}}
{{- if and (eq .Values.certificates.mode "self-managed") (eq .Values.admission.mode "webhook") }}true{{ end }}
{{- end }}

{{- /* Policy mode: no webhook, no certificate; the leader writes the policies' parameters. */}}
{{- define "pullpass.policyMode" -}}
{{- if eq .Values.admission.mode "policy" }}true{{ end }}
{{- end }}

{{/* Non-empty when a replica must hold the Lease for some work: replication, repair, the
detection of pods admitted without credentials, or policy mode's parameters. */}}
{{- define "pullpass.leader" -}}
{{- if or .Values.replication.enabled .Values.repair.enabled .Values.detectMissing.enabled (include "pullpass.policyMode" .) -}}
true
{{- end -}}
{{- end }}
